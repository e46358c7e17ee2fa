// Safe zip reading and writing for XDM media (yauzl / yazl): entry count, per-entry and total size, compression
// ratio and path checks happen before and while inflating, so a zip bomb or a path-traversal entry is refused with
// a precise error instead of filling memory or the disk.
import yauzl from 'yauzl';
import yazl from 'yazl';

export const ZipErrorCode = {
  NotAZip: 'XDM_NOT_A_ZIP',
  PathTraversal: 'XDM_PATH_TRAVERSAL',
  TooManyEntries: 'XDM_TOO_MANY_ENTRIES',
  EntryTooLarge: 'XDM_ENTRY_TOO_LARGE',
  TotalTooLarge: 'XDM_TOTAL_TOO_LARGE',
  SuspiciousRatio: 'XDM_ZIP_BOMB',
  Encrypted: 'XDM_ENCRYPTED_ENTRY',
  Corrupt: 'XDM_CORRUPT_ENTRY',
} as const;
export type ZipErrorCode = (typeof ZipErrorCode)[keyof typeof ZipErrorCode];

export class ZipError extends Error {
  override readonly name = 'ZipError';
  constructor(
    readonly code: ZipErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ZipLimits {
  /** Entries in the archive (default 1000). */
  maxEntries: number;
  /** Uncompressed size of one entry (default 100 MiB). */
  maxEntryBytes: number;
  /** Uncompressed size of all entries (default 200 MiB). */
  maxTotalBytes: number;
  /** Uncompressed / compressed ratio above which an entry larger than 1 MiB is refused (default 100). */
  maxRatio: number;
}

export const DEFAULT_ZIP_LIMITS: Readonly<ZipLimits> = Object.freeze({
  maxEntries: 1000,
  maxEntryBytes: 100 * 1024 * 1024,
  maxTotalBytes: 200 * 1024 * 1024,
  maxRatio: 100,
});

export interface ZipEntry {
  /** Path with `/` separators (backslashes converted). */
  path: string;
  /** True when the archive wrote this name with backslashes. */
  hadBackslashes: boolean;
  bytes: Buffer;
}

function open(buffer: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(
      buffer,
      { lazyEntries: true, decodeStrings: true, strictFileNames: false, validateEntrySizes: true },
      (err, zip) => {
        if (err || !zip)
          reject(
            new ZipError(
              ZipErrorCode.NotAZip,
              `Not a readable zip archive (${err?.message ?? 'unknown error'}): send a ZIP file`,
            ),
          );
        else resolve(zip);
      },
    );
  });
}

function mapYauzlError(error: Error): ZipError {
  const m = error.message;
  if (/absolute path|invalid relative path/.test(m))
    return new ZipError(ZipErrorCode.PathTraversal, `The archive contains an entry outside its root (${m}): refused`);
  if (/too many bytes/i.test(m))
    return new ZipError(ZipErrorCode.SuspiciousRatio, `An entry inflates beyond its declared size (${m}): refused`);
  return new ZipError(ZipErrorCode.Corrupt, `The archive is damaged: ${m}`);
}

/** Reads every file entry of a zip held in memory, within the limits. Directories are skipped. */
export async function readZip(buffer: Buffer, limits: Partial<ZipLimits> = {}): Promise<ZipEntry[]> {
  const lim = { ...DEFAULT_ZIP_LIMITS, ...limits };
  const zip = await open(buffer);
  if (zip.entryCount > lim.maxEntries) {
    zip.close();
    throw new ZipError(
      ZipErrorCode.TooManyEntries,
      `The archive has ${zip.entryCount} entries, more than the limit of ${lim.maxEntries}`,
    );
  }
  const entries: ZipEntry[] = [];
  let total = 0;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      zip.close();
      reject(error instanceof ZipError ? error : mapYauzlError(error));
    };
    zip.on('error', fail);
    zip.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(entries);
    });
    zip.on('entry', (entry: yauzl.Entry) => {
      if (settled) return;
      const path = entry.fileName;
      if (path.endsWith('/')) {
        zip.readEntry();
        return;
      }
      if (entry.isEncrypted())
        return fail(
          new ZipError(ZipErrorCode.Encrypted, `Entry "${path}" is encrypted: send the XDM zip without a password`),
        );
      if (entry.uncompressedSize > lim.maxEntryBytes) {
        return fail(
          new ZipError(
            ZipErrorCode.EntryTooLarge,
            `Entry "${path}" is ${entry.uncompressedSize} bytes uncompressed, more than the limit of ${lim.maxEntryBytes}`,
          ),
        );
      }
      if (total + entry.uncompressedSize > lim.maxTotalBytes) {
        return fail(
          new ZipError(
            ZipErrorCode.TotalTooLarge,
            `The archive expands to more than ${lim.maxTotalBytes} bytes: refused`,
          ),
        );
      }
      if (
        entry.uncompressedSize > 1024 * 1024 &&
        entry.uncompressedSize / Math.max(1, entry.compressedSize) > lim.maxRatio
      ) {
        return fail(
          new ZipError(
            ZipErrorCode.SuspiciousRatio,
            `Entry "${path}" expands ${Math.round(entry.uncompressedSize / Math.max(1, entry.compressedSize))} times (${entry.compressedSize} → ${entry.uncompressedSize} bytes): refused as a possible zip bomb`,
          ),
        );
      }
      zip.openReadStream(entry, (err, stream) => {
        if (err || !stream) return fail(err ?? new Error('no stream'));
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // validateEntrySizes stops a stream that lies about its size; this is a second fence.
          if (size > entry.uncompressedSize || size > lim.maxEntryBytes) {
            stream.destroy();
            fail(
              new ZipError(
                ZipErrorCode.SuspiciousRatio,
                `Entry "${path}" inflates beyond its declared size of ${entry.uncompressedSize} bytes: refused`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        stream.on('error', fail);
        stream.on('end', () => {
          if (settled) return;
          total += size;
          entries.push({ path, hadBackslashes: entry.fileNameRaw.includes(0x5c), bytes: Buffer.concat(chunks) });
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
}

export interface ZipFileToWrite {
  path: string;
  bytes: Uint8Array;
}

/** Writes a zip (deflated entries, fixed timestamp for reproducible output). */
export function writeZip(files: readonly ZipFileToWrite[], mtime = new Date('2000-01-01T00:00:00Z')): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const f of files) zip.addBuffer(Buffer.from(f.bytes), f.path, { mtime, compress: true });
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}
