// File source: polls a directory and hands each matching file (one message per file) to the channel. A file
// accepted (or filtered) is moved to processedDirectory (deleted when there is none); a refused one is moved to
// errorDirectory with a `<name>.error.txt` beside it saying why. A file whose message could not be made
// durable stays where it is and is picked up again at the next poll (the duplicate is recognized).
// Writers should create files under another name (or a dot-name) and rename them into place when complete.
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FileSourceConfig } from '../../engine/channel-config.js';
import type { InboundChannel, SourceConnector, SourceStatus } from '../../engine/connector.js';
import { MessageStatus, Stage } from '../../engine/message-store.js';

const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

/** `*.hl7` → a RegExp matching whole file names (`*` any run, `?` one character). */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'u');
}

export class FileSource implements SourceConnector {
  readonly type = 'file';
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = true;
  private channel: InboundChannel | undefined;
  private files = 0;
  private lastError: string | undefined;

  constructor(
    private readonly config: FileSourceConfig,
    private readonly logger: Logger,
  ) {}

  async start(channel: InboundChannel): Promise<void> {
    this.channel = channel;
    await mkdir(this.config.directory, { recursive: true });
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .catch((error: Error) => {
          this.lastError = error.message;
          this.logger.warn({ err: error, channel: this.channel?.id }, 'file source poll failed');
        })
        .finally(() => this.schedule(this.config.pollIntervalMs));
    }, ms);
  }

  /** One pass over the directory (exported for tests through start/stop timing). */
  async poll(): Promise<void> {
    const pattern = globToRegExp(this.config.pattern);
    const names = (await readdir(this.config.directory, { withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.startsWith('.') && pattern.test(e.name) && !e.name.endsWith('.error.txt'))
      .map((e) => e.name)
      .sort();
    for (const name of names) {
      if (this.stopped) return;
      await this.take(name);
    }
  }

  private async take(name: string): Promise<void> {
    const channel = this.channel!;
    const path = join(this.config.directory, name);
    const limit = this.config.maxMessageBytes ?? DEFAULT_MAX_BYTES;
    const info = await stat(path).catch(() => undefined);
    if (!info) return;
    if (info.size > limit) {
      const head = Buffer.alloc(Math.min(4096, info.size));
      const handle = await open(path, 'r');
      try {
        await handle.read(head, 0, head.length, 0);
      } finally {
        await handle.close();
      }
      const message = `The file is ${info.size} bytes, more than this channel accepts (${limit}); split it or raise source.maxMessageBytes.`;
      await channel.receiveFailure(head, { source: `file ${name}` }, { stage: Stage.Receive, severity: 'error', code: 'HL7_TOO_LARGE', message });
      await this.moveToError(name, message);
      return;
    }
    const raw = await readFile(path);
    const outcome = await channel.receive(raw, { source: `file ${name}` });
    this.files++;
    if (outcome.status === MessageStatus.Received) return; // not durable yet: next poll
    if (outcome.ack === 'accept') {
      if (this.config.processedDirectory) {
        await mkdir(this.config.processedDirectory, { recursive: true });
        await rename(path, join(this.config.processedDirectory, name));
      } else await rm(path, { force: true });
      return;
    }
    await this.moveToError(name, outcome.errors.map((e) => `${e.stage}: ${e.code}: ${e.message}${e.location ? ` (at ${e.location})` : ''}`).join('\n') || 'refused');
  }

  private async moveToError(name: string, why: string): Promise<void> {
    const dir = this.config.errorDirectory ?? join(this.config.directory, 'error');
    await mkdir(dir, { recursive: true });
    await rename(join(this.config.directory, name), join(dir, name));
    await writeFile(join(dir, `${name}.error.txt`), `${why}\n`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  status(): SourceStatus {
    return {
      type: 'file',
      endpoint: `file://${this.config.directory}/${this.config.pattern}`,
      listening: !this.stopped,
      detail: { filesTaken: this.files, ...(this.lastError ? { lastError: this.lastError } : {}) },
    };
  }
}
