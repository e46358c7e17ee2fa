// A directory of channel files, watched: a change to a `*<suffix>` file runs the reload once the writes have
// settled (debounced), and reloads never overlap — one asked while another runs goes after it, so the last write
// is always the one applied. Used by the HL7 v2 channel engine and by the DICOM channels (connectors/dicom).
// A directory that does not exist yet is waited for (its parent is watched until it appears).
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

/** Why a reload runs: a change seen in the directory, or asked for (admin API, CLI). */
export type ReloadCause = 'watch' | 'manual';

export interface DirectoryReloaderOptions<T> {
  directory: string;
  /** Only files ending so count (e.g. `.channel.yaml`): editor swap files and the like do not trigger a reload. */
  suffix: string;
  /** Re-reads the directory and applies it; called one at a time. */
  reload: (cause: ReloadCause) => Promise<T>;
  logger: Logger;
  /** What the directory is, for the log: "the channels directory". */
  label: string;
  /** How to reload by hand when watching is not possible: "POST /admin/channels/reload". */
  manualReload: string;
  /** How long the directory must stay quiet before the reload runs (default 300 ms). */
  debounceMs?: number;
}

export class DirectoryReloader<T> {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: DirectoryReloaderOptions<T>) {}

  /** True while the directory (or, until it exists, its parent) is watched. */
  get watching(): boolean {
    return this.watcher !== undefined;
  }

  /** Starts watching; a reload follows every change once the directory is quiet. */
  watch(): void {
    if (this.closed || this.watcher) return;
    const { directory, suffix, label, manualReload, logger } = this.options;
    try {
      this.watcher = watch(directory, (_event, name) => {
        if (name && !String(name).endsWith(suffix)) return;
        this.schedule();
      });
      this.watcher.on('error', (error) => {
        logger.warn({ err: error }, `watching ${label} failed; use ${manualReload}`);
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && this.waitForDirectory()) return;
      logger.warn({ err: error, dir: directory }, `cannot watch ${label}; use ${manualReload}`);
    }
  }

  /** The directory does not exist: watch its parent until it is created, then watch it and reload. */
  private waitForDirectory(): boolean {
    const { directory, label, manualReload, logger } = this.options;
    try {
      const parent = watch(dirname(directory), (_event, name) => {
        if (name !== null && String(name) !== basename(directory)) return;
        if (!existsSync(directory) || this.watcher !== parent) return;
        parent.close();
        this.watcher = undefined;
        this.watch();
        this.schedule();
      });
      parent.on('error', (error) => {
        logger.warn({ err: error }, `watching for ${label} to appear failed; use ${manualReload}`);
        parent.close();
        if (this.watcher === parent) this.watcher = undefined;
      });
      this.watcher = parent;
      // Created between the failed watch and this one: nothing would tell us.
      if (existsSync(directory)) {
        parent.close();
        this.watcher = undefined;
        this.watch();
        this.schedule();
      }
      return true;
    } catch {
      return false;
    }
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload('watch').catch((error: Error) =>
        this.options.logger.error({ err: error }, `reloading ${this.options.label} failed`),
      );
    }, this.options.debounceMs ?? 300);
  }

  /** Reloads now, after any reload already running; resolves with what the reload returned. */
  reload(cause: ReloadCause = 'manual'): Promise<T> {
    const run = this.running.then(() => this.options.reload(cause));
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Stops watching and waits for a reload in progress. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
