// File destination: writes each message (raw bytes, or the change set's Bundle as JSON) to a file named from
// a template, atomically: a temporary dot-file is written and synced, then renamed into place, so a reader
// polling the directory never sees half a file.
import { randomUUID } from 'node:crypto';
import { mkdir, open, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { FileDestinationConfig } from '../../engine/channel-config.js';
import { DeliveryError, type DeliveryResult, type DestinationConnector, type OutboundMessage } from '../../engine/connector.js';

/** `{channel}-{controlId}.{ext}` → a safe file name (no path separators, no leading dot). */
export function fileNameFor(template: string, message: OutboundMessage, ext: string): string {
  const values: Record<string, string> = {
    channel: message.channel,
    messageId: message.messageId,
    controlId: message.controlId ?? 'no-control-id',
    receivedAt: message.receivedAt.toISOString().replace(/[-:]/g, '').replace('.', ''),
    destination: message.destination,
    ext,
  };
  const name = template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole).replace(/[/\\\0]/g, '_');
  return basename(name).replace(/^\.+/, '_');
}

export class FileDestination implements DestinationConnector {
  readonly type = 'file';

  constructor(private readonly config: FileDestinationConfig) {}

  async send(message: OutboundMessage): Promise<DeliveryResult> {
    const bundle = this.config.content === 'bundle';
    if (bundle && !message.bundle) throw new DeliveryError('This destination writes the change set (content: bundle) but the message has none.', false);
    const bytes = bundle ? Buffer.from(JSON.stringify(message.bundle, null, 2)) : message.raw;
    const name = fileNameFor(this.config.fileName, message, bundle ? 'json' : 'hl7');
    const target = join(this.config.directory, name);
    const temporary = join(this.config.directory, `.${name}.${randomUUID()}.tmp`);
    try {
      await mkdir(this.config.directory, { recursive: true });
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, target);
    } catch (error) {
      throw new DeliveryError(`Cannot write ${target}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, true);
    }
    return { response: `written ${name} (${bytes.length} bytes)` };
  }

  async close(): Promise<void> {}
}
