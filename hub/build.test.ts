// The compiled hub (hub/build.mjs): it runs like the sources (import.meta names the source file, so files read
// beside the code are found), and it is used only while it matches the sources exactly.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildHub, checkBuild } from './build.mjs';
import { extractTar } from './embedded-database.js';

const root = mkdtempSync(join(tmpdir(), 'keney-build-'));
const buildDir = join(root, 'dist', 'server');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

describe('compiled hub', () => {
  it('is missing, then built, then refused as soon as a source changes, appears or goes', async () => {
    write('tsconfig.json', JSON.stringify({ compilerOptions: { strict: true, verbatimModuleSyntax: true } }));
    write('hub/here.ts', 'export const url: string = import.meta.url;\nexport const dir = import.meta.dirname;\n');
    write('hub/data.json', '{"answer":42}');
    write(
      'hub/main.ts',
      "import { readFileSync } from 'node:fs';\nimport { dir } from './here.js';\nimport { twice } from './lib.mjs';\n" +
        "import type { Unused } from './types.js';\n" +
        "export const answer: number = twice(JSON.parse(readFileSync(new URL('./data.json', import.meta.url), 'utf8')).answer / 2);\n" +
        'export const hereDir = dir;\nexport type Kept = Unused;\n',
    );
    write('hub/types.ts', 'export interface Unused { x: number }\n');
    write('hub/uses-ui.ts', "export { one } from '../ui/lib/one.js';\n");
    write('ui/lib/one.ts', 'export const one: number = 1;\n');
    write('bench/other.ts', 'export const notServer = true;\n');
    write('hub/lib.mjs', 'export const twice = (n) => n * 2;\n');
    write('hub/main.test.ts', 'not compiled: tests run from the sources\n');
    write('node_modules/x/index.ts', 'not compiled\n');

    expect(checkBuild(root, buildDir)).toMatchObject({ ok: false, reason: expect.stringMatching(/no compiled hub/) });
    await buildHub({ root, buildDir });
    expect(checkBuild(root, buildDir)).toEqual({ ok: true });

    const main = (await import(pathToFileURL(join(buildDir, 'hub/main.js')).href)) as {
      answer: number;
      hereDir: string;
    };
    expect(main.answer).toBe(42); // data.json read beside the source, through the .mjs stub
    expect(main.hereDir).toBe(join(root, 'hub'));
    const here = (await import(pathToFileURL(join(buildDir, 'hub/here.js')).href)) as { url: string };
    expect(here.url).toBe(pathToFileURL(join(root, 'hub/here.ts')).href);

    expect(existsSync(join(buildDir, 'ui/lib/one.js'))).toBe(true); // imported by the server
    expect(existsSync(join(buildDir, 'bench/other.js'))).toBe(false);

    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, 'bench/other.ts'), later, later);
    expect(checkBuild(root, buildDir)).toEqual({ ok: true });
    utimesSync(join(root, 'ui/lib/one.ts'), later, later);
    expect(checkBuild(root, buildDir)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/ui\/lib\/one\.ts changed/),
    });
    await buildHub({ root, buildDir });
    utimesSync(join(root, 'hub/here.ts'), later, later);
    expect(checkBuild(root, buildDir)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/hub\/here\.ts changed/),
    });
    await buildHub({ root, buildDir });
    write('hub/new.ts', 'export {};\n');
    expect(checkBuild(root, buildDir)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/hub\/new\.ts was added/),
    });
    await buildHub({ root, buildDir });
    rmSync(join(root, 'hub/new.ts'));
    expect(checkBuild(root, buildDir)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/hub\/new\.ts was removed/),
    });
  });

  it('is not replaced by a build that fails, which names the file and line', async () => {
    await buildHub({ root, buildDir });
    write('hub/broken.ts', 'export const x = ;\n');
    await expect(buildHub({ root, buildDir })).rejects.toThrow(/hub\/broken\.ts:1:\d+/);
    expect(checkBuild(root, buildDir)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/broken\.ts was added/),
    });
    rmSync(join(root, 'hub/broken.ts'));
    expect(checkBuild(root, buildDir)).toEqual({ ok: true });
  });
});

describe('embedded database template', () => {
  it('unpacks a ustar archive of files and directories', async () => {
    const source = join(root, 'tar-source');
    write('tar-source/PG_VERSION', '17\n');
    write('tar-source/base/1/1259', 'x'.repeat(1500));
    mkdirSync(join(source, 'pg_wal', 'summaries'), { recursive: true });
    const tar = execFileSync('tar', ['--format=ustar', '-cf', '-', '-C', source, '.']);
    const target = join(root, 'tar-target');
    await extractTar(tar, target);
    expect(readFileSync(join(target, 'PG_VERSION'), 'utf8')).toBe('17\n');
    expect(readFileSync(join(target, 'base/1/1259'), 'utf8')).toBe('x'.repeat(1500));
    expect(existsSync(join(target, 'pg_wal/summaries'))).toBe(true);
  });
});
