// The watch shared by the HL7 v2 and DICOM channel directories, on a real temporary directory: reloads never
// overlap (one asked during another runs after it), a changed channel file reloads (and says it was the watch),
// and a directory that does not exist yet is waited for.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryReloader, type ReloadCause } from './directory-reloader.js';
import { eventually } from './test-support.js';

describe('DirectoryReloader', () => {
  let work: string;
  let reloader: DirectoryReloader<number> | undefined;
  const causes: ReloadCause[] = [];

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'keney-reloader-'));
    causes.length = 0;
  });
  afterEach(async () => {
    await reloader?.close();
    reloader = undefined;
    await rm(work, { recursive: true, force: true });
  });

  const open = (directory: string, reload: (cause: ReloadCause) => Promise<number>) =>
    new DirectoryReloader({
      directory,
      suffix: '.channel.yaml',
      reload,
      logger: pino({ level: 'silent' }),
      label: 'the test directory',
      manualReload: 'a manual reload',
      debounceMs: 20,
    });

  /** Watches `directory`; every reload notes its cause in `causes`. */
  const watching = (directory: string) => {
    const watched = open(directory, async (cause) => causes.push(cause));
    watched.watch();
    return watched;
  };

  it('runs one reload at a time: one asked while another runs starts after it', async () => {
    let running = 0;
    let most = 0;
    let release: (() => void) | undefined;
    let count = 0;
    reloader = open(work, async () => {
      running++;
      most = Math.max(most, running);
      if (count === 0) await new Promise<void>((resolve) => (release = resolve));
      running--;
      return ++count;
    });
    const first = reloader.reload();
    const second = reloader.reload();
    await eventually(() => release !== undefined, 'the first reload under way');
    expect(count).toBe(0);
    release!();
    expect(await first).toBe(1);
    expect(await second).toBe(2);
    expect(most).toBe(1);
  });

  it('reloads after a channel file changes, and tells a watched change from a manual reload', async () => {
    reloader = watching(work);
    expect(reloader.watching).toBe(true);
    await writeFile(join(work, 'notes.txt'), 'not a channel');
    await writeFile(join(work, 'a.channel.yaml'), 'source: {}');
    await eventually(() => causes.includes('watch'), 'a reload after the channel file');
    await reloader.reload();
    expect(causes.at(-1)).toBe('manual');
  });

  it('waits for a directory that does not exist yet, then watches it', async () => {
    const directory = join(work, 'later');
    reloader = watching(directory);
    expect(reloader.watching).toBe(true);
    await mkdir(directory);
    await eventually(() => causes.includes('watch'), 'a reload once the directory appears');
    const before = causes.length;
    await writeFile(join(directory, 'b.channel.yaml'), 'source: {}');
    await eventually(() => causes.length > before, 'a reload after a file in the new directory');
  });
});
