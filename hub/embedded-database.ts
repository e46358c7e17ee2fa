// The embedded profile's database directory. A new one is made from the empty-database template of the build
// (dist/pglite-template, ≈1 s) instead of by PGlite's initdb (6–12 s), when the installed PGlite made that template;
// otherwise PGlite creates it as before. The template is unpacked into a temporary directory renamed into place,
// so a start killed meanwhile leaves no half database: the next start unpacks again.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import { pgliteTemplate } from './build.mjs';

/** Whether `dir` holds no database yet (absent or empty: PGlite would run initdb there). */
function isNew(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/**
 * Fills `dir` (the data directory's `pglite/`) from the template when it is new and a template from the installed
 * PGlite is there; says in the log which way the database is made. Returns whether it did.
 */
export async function prepareEmbeddedDatabase(dir: string, logger: Logger): Promise<boolean> {
  if (!isNew(dir)) return false;
  const template = pgliteTemplate();
  if (!template.path) {
    logger.info(`Creating the embedded database (several seconds): ${template.reason}.`);
    return false;
  }
  const staging = `${dir}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await extractTar(gunzipSync(readFileSync(template.path)), staging);
  await rm(dir, { recursive: true, force: true }); // empty, or absent
  await mkdir(dirname(dir), { recursive: true });
  await rename(staging, dir);
  logger.info('Created the embedded database from the empty-database template of the build.');
  return true;
}

/** Unpacks a ustar archive of plain files and directories (what PGlite's dumpDataDir writes) into `target`. */
export async function extractTar(tar: Buffer, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  const text = (start: number, length: number): string => {
    const raw = tar.subarray(start, start + length);
    const end = raw.indexOf(0);
    return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
  };
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const name = text(offset, 100);
    if (name === '') break; // the two zero blocks that end the archive
    const prefix = text(offset + 345, 155);
    const size = Number.parseInt(text(offset + 124, 12).trim() || '0', 8);
    const type = text(offset + 156, 1) || '0';
    const relative = normalize(`${prefix ? `${prefix}/` : ''}${name}`.replace(/^\/+/, ''));
    if (relative.split(sep).includes('..')) throw new Error(`The database template names a path outside: ${name}`);
    const path = join(target, relative);
    const body = offset + 512;
    if (type === '5') await mkdir(path, { recursive: true });
    else if (type === '0') {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, tar.subarray(body, body + size));
    } else
      throw new Error(`The database template holds an entry of type "${type}" (${name}), not a file or directory.`);
    offset = body + Math.ceil(size / 512) * 512;
  }
}
