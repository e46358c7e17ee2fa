// The DICOM channel files as they are now, applied to the running channels: read at start, then again whenever
// a `*.channel.yaml` of the directory changes (watched, debounced: the engine's DirectoryReloader) or on
// POST /admin/dicom/channels/reload. What runs:
//
// - every file that loads;
// - for a file that no longer loads, its last good version (the error is reported on the channel: file, line, fix);
// - the built-in channel (everything into the record) while the directory has no channel file — and, once it
//   runs, until a file that replaces it loads (an invalid first file does not stop the record).
//
// At start there is no previous version: an invalid file runs nothing and is listed with its errors.
import type { Logger } from 'pino';
import { DirectoryReloader, type ReloadCause } from '../../../engine/directory-reloader.js';
import { formatIssue, type ChannelConfigIssue, type EngineError } from '../../../engine/errors.js';
import {
  DEFAULT_DICOM_CHANNEL,
  DICOM_CHANNEL_SUFFIX,
  loadDicomChannels,
  refuseTakenIds,
  type DicomChannelsLoad,
  type LoadedDicomChannel,
} from './config.js';
import type { DicomChannels, DicomChannelView } from './router.js';

/** Why the directory was read: the start, a change seen in it, or POST /admin/dicom/channels/reload. */
export type ReloadTrigger = 'start' | ReloadCause;

/** The last time the directory was read: what changed, which files are invalid, or why it could not be read. */
export interface DicomChannelsReload {
  at: string;
  trigger: ReloadTrigger;
  added: string[];
  updated: string[];
  removed: string[];
  /** Files that do not load (each listed with its issues: on its channel, or in `invalidChannels`). */
  invalid: string[];
  /** The directory itself could not be read (the channels running before keep running). */
  error: string | null;
}

export interface DicomChannelListing extends DicomChannelView {
  /** The file on disk does not load any more; this is its last good version. */
  pendingFileError: string | null;
  issues: readonly ChannelConfigIssue[];
}

export interface InvalidDicomChannel {
  file: string;
  error: string;
  issues: readonly ChannelConfigIssue[];
}

export interface DicomChannelDirectoryOptions {
  directory: string;
  env: Readonly<Record<string, string | undefined>>;
  /** The ids of the hub's HL7 v2 channels, which a DICOM channel may not take. */
  takenIds: () => readonly string[];
  logger: Logger;
  debounceMs?: number;
}

export class DicomChannelDirectory {
  private readonly reloader: DirectoryReloader<DicomChannelsReload>;
  private failures: DicomChannelsLoad['failed'] = [];
  private router: DicomChannels | undefined;
  private last: DicomChannelsReload | undefined;

  constructor(private readonly options: DicomChannelDirectoryOptions) {
    this.reloader = new DirectoryReloader({
      directory: options.directory,
      suffix: DICOM_CHANNEL_SUFFIX,
      reload: (cause) => this.reloadNow(cause),
      logger: options.logger,
      label: 'the DICOM channels directory',
      manualReload: 'POST /admin/dicom/channels/reload',
      ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
    });
  }

  private async read(): Promise<DicomChannelsLoad> {
    return refuseTakenIds(await loadDicomChannels(this.options.directory, this.options.env), this.options.takenIds());
  }

  /** The channels to run at start (the files, or the built-in channel when there is none). */
  async initial(): Promise<LoadedDicomChannel[]> {
    const load = await this.read();
    this.failures = load.failed;
    for (const failure of load.failed) this.report(failure, false);
    const run = load.loaded.length > 0 || load.failed.length > 0 ? load.loaded : [{ config: DEFAULT_DICOM_CHANNEL }];
    this.last = {
      at: new Date().toISOString(),
      trigger: 'start',
      added: run.map((c) => c.config.id),
      updated: [],
      removed: [],
      invalid: load.failed.map((f) => f.file),
      error: null,
    };
    return run;
  }

  /** From now on, changes are applied to these channels; `watch` (default true) follows the directory. */
  attach(router: DicomChannels, watch = true): void {
    this.router = router;
    if (watch) this.reloader.watch();
  }

  get watching(): boolean {
    return this.reloader.watching;
  }

  /** Reads the directory again (after any reload under way) and applies it. */
  reload(): Promise<DicomChannelsReload> {
    return this.reloader.reload('manual');
  }

  /** Stops watching; waits for a reload under way. */
  close(): Promise<void> {
    this.router = undefined;
    return this.reloader.close();
  }

  private async reloadNow(trigger: ReloadCause): Promise<DicomChannelsReload> {
    const at = new Date().toISOString();
    const router = this.router;
    if (!router)
      return {
        at,
        trigger,
        added: [],
        updated: [],
        removed: [],
        invalid: [],
        error: 'The DICOM channels are not running (the module is starting or stopping).',
      };
    let load: DicomChannelsLoad;
    try {
      load = await this.read();
    } catch (error) {
      const message = `The DICOM channels directory ${this.options.directory} cannot be read (${(error as Error).message}); the channels keep running as they are.`;
      this.options.logger.error({ err: error }, message);
      this.last = { at, trigger, added: [], updated: [], removed: [], invalid: [], error: message };
      return this.last;
    }
    const running = router.loaded();
    const loadedIds = new Set(load.loaded.map((c) => c.config.id));
    const next: LoadedDicomChannel[] = [...load.loaded];
    for (const failure of load.failed) {
      // The last good version of a file that no longer loads keeps running (unless another file took its id).
      const previous = running.find((c) => c.file === failure.file);
      if (previous && !loadedIds.has(previous.config.id)) next.push(previous);
      this.report(failure, previous !== undefined);
    }
    const builtInRuns = running.some((c) => c.file === undefined);
    if (next.length === 0 && (load.failed.length === 0 || builtInRuns)) next.push({ config: DEFAULT_DICOM_CHANNEL });
    this.failures = load.failed;
    const changes = await router.apply(next);
    this.last = { at, trigger, ...changes, invalid: load.failed.map((f) => f.file), error: null };
    if (changes.added.length + changes.updated.length + changes.removed.length > 0)
      this.options.logger.info(this.last, 'DICOM channels reloaded');
    return this.last;
  }

  private report(failure: { file: string; error: EngineError }, keepsRunning: boolean): void {
    const what = failure.error.issues.map(formatIssue).join('\n') || failure.error.message;
    this.options.logger.error(
      { file: failure.file },
      `${what}\n${keepsRunning ? 'The channel keeps running its previous version until the file is fixed.' : 'This DICOM channel is not running until the file is fixed.'}`,
    );
  }

  /** The last reload (or the start). */
  lastReload(): DicomChannelsReload | undefined {
    return this.last;
  }

  /** The running channels, each with the error of its file when the file changed into something invalid. */
  channels(views: readonly DicomChannelView[]): DicomChannelListing[] {
    return views.map((view) => {
      const failure = view.file ? this.failures.find((f) => f.file === view.file) : undefined;
      return {
        ...view,
        pendingFileError: failure?.error.message ?? null,
        issues: failure?.error.issues ?? [],
      };
    });
  }

  /** The files that do not load and run nothing. */
  invalid(runningFiles: readonly (string | null)[]): InvalidDicomChannel[] {
    return this.failures
      .filter((f) => !runningFiles.includes(f.file))
      .map((f) => ({ file: f.file, error: f.error.message, issues: f.error.issues }));
  }
}
