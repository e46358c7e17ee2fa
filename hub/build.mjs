// The compiled hub: every TypeScript source of the server transpiled once, file by file, into dist/server/ (same
// tree, same module graph, types stripped by esbuild exactly as tsx would at each start), so that `keney` starts
// on plain Node ESM without a loader. `npm install` builds it (`prepare`); `npm run build:hub` rebuilds it.
//
// The build is never trusted blindly: dist/server/manifest.json lists every source it was made from with its size
// and modification time, and `bin/keney.js` runs it only when the sources on disk are exactly that list, unchanged
// (`checkBuild`); otherwise it says why and runs the sources through tsx, as before.
//
// Files read at run time beside the code (YAML, JSON schemas, templates, package.json…) are still read from the
// source tree: `import.meta.url`, `import.meta.dirname` and `import.meta.filename` in a compiled file name its
// source file, not its copy in dist/.
//
// This file is plain JavaScript on purpose: `bin/keney.js` imports `checkBuild` before any TypeScript can run, and
// it must stay cheap (esbuild is imported only to build).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUILD_DIR = join(ROOT, 'dist', 'server');
const MANIFEST = 'manifest.json';
/** Bumped when the shape of the output changes, so that an older build is not taken for a current one. */
const FORMAT = 1;

/**
 * The server's folders: everything in them is compiled (a module may be imported under a computed name, as
 * mappings/index.ts is), but tests and test helpers. TypeScript elsewhere (the browser UI's shared `lib/`…) is
 * compiled when the server imports it, as the build finds.
 */
const SERVER_DIRS = [
  'adapters',
  'channels',
  'connectors',
  'demo',
  'engine',
  'hub',
  'mappings',
  'mllp',
  'store',
  'terminology-maps',
];
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'data', 'testing']);

function isSource(name) {
  if (
    name.endsWith('.test.ts') ||
    name.endsWith('.d.ts') ||
    name === 'test-support.ts' ||
    name.endsWith('.contract.ts')
  )
    return false;
  return name.endsWith('.ts') || name.endsWith('.mjs');
}

const inServerDirs = (path) => SERVER_DIRS.includes(path.split('/')[0]);

/**
 * The sources of the server folders — TypeScript, and `.mjs` modules (plain JavaScript that TypeScript imports,
 * such as this file: dist/server gets a stub re-exporting the original, so that there is one instance of it) —
 * as sorted `/`-separated relative paths.
 */
export function listSources(root = ROOT) {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && !SKIPPED_DIRS.has(entry.name)) walk(path);
      } else if (entry.isFile() && isSource(entry.name)) found.push(relative(root, path).split(sep).join('/'));
    }
  };
  for (const dir of SERVER_DIRS) if (existsSync(join(root, dir))) walk(join(root, dir));
  return found.sort();
}

/** What the output also depends on besides the sources (this builder is one of them, in hub/): the transpile options. */
const INPUTS = ['tsconfig.json'];

function stamp(root, path) {
  const s = statSync(join(root, path));
  return [s.size, Math.trunc(s.mtimeMs)];
}

/**
 * Whether dist/server can run in place of the sources: `{ ok: true }`, or `{ ok: false, reason }` in words a user
 * can act on. Costs one walk of the source tree and a stat per file (a few milliseconds).
 */
export function checkBuild(root = ROOT, buildDir = BUILD_DIR) {
  const rebuild = 'run `npm run build:hub` to rebuild it';
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(buildDir, MANIFEST), 'utf8'));
  } catch (error) {
    return error.code === 'ENOENT'
      ? {
          ok: false,
          reason: `there is no compiled hub in ${relative(root, buildDir)}: run \`npm run build:hub\` to build it`,
        }
      : { ok: false, reason: `the compiled hub's manifest is unreadable (${error.message}): ${rebuild}` };
  }
  if (manifest.format !== FORMAT)
    return { ok: false, reason: `the compiled hub was made by another version of hub/build.mjs: ${rebuild}` };
  const built = manifest.files ?? {};
  const sources = listSources(root);
  const listed = new Set(sources);
  const imported = Object.keys(built).filter((path) => !INPUTS.includes(path) && !inServerDirs(path));
  for (const path of [...INPUTS, ...sources, ...imported]) {
    const expected = built[path];
    if (!expected) return { ok: false, reason: `${path} was added since the hub was compiled: ${rebuild}` };
    let actual;
    try {
      actual = stamp(root, path);
    } catch {
      return { ok: false, reason: `${path} is missing: ${rebuild}` };
    }
    if (actual[0] !== expected[0] || actual[1] !== expected[1])
      return { ok: false, reason: `${path} changed since the hub was compiled: ${rebuild}` };
  }
  const gone = Object.keys(built).find((path) => inServerDirs(path) && !listed.has(path));
  if (gone) return { ok: false, reason: `${gone} was removed since the hub was compiled: ${rebuild}` };
  return { ok: true };
}

/** esbuild as tsx uses it (tsx depends on it, so it is there wherever `keney` can run from the sources). */
async function loadEsbuild() {
  const require = createRequire(import.meta.url);
  let path;
  try {
    path = createRequire(require.resolve('tsx/package.json')).resolve('esbuild');
  } catch {
    path = require.resolve('esbuild');
  }
  return import(pathToFileURL(path).href);
}

/** esbuild's errors as `file:line:column: text` lines. */
function describeErrors(error, path) {
  if (!error.errors?.length) return `${path ?? ''}${path ? ': ' : ''}${error.message}`;
  return error.errors
    .map((e) => `${path ?? e.location?.file}:${e.location?.line ?? '?'}:${e.location?.column ?? '?'}: ${e.text}`)
    .join('\n');
}

/** The sources plus the TypeScript they import from outside the server folders (found by an esbuild pass). */
async function withImports(esbuild, root, sources) {
  const result = await esbuild
    .build({
      absWorkingDir: root,
      entryPoints: sources.filter((path) => path.endsWith('.ts')),
      bundle: true,
      write: false,
      metafile: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      outdir: 'out',
      logLevel: 'silent',
    })
    .catch((error) => {
      throw new Error(`the sources do not compile:\n${describeErrors(error)}`);
    });
  const all = new Set(sources);
  for (const input of Object.keys(result.metafile.inputs))
    if (/\.(ts|mjs)$/.test(input) && !input.includes('node_modules/') && !input.startsWith('..')) all.add(input);
  return [...all].sort();
}

/** A file's `import.meta` made to name its source: prepended to each compiled file that uses it. */
function sourceBanner(fromOutput, sourcePath) {
  const toSource = relative(dirname(fromOutput), sourcePath).split(sep).join('/');
  return (
    `import { fileURLToPath as __keneyFileURLToPath } from 'node:url';\n` +
    `const __keneySourceUrl = new URL(${JSON.stringify(toSource)}, import.meta.url).href;\n` +
    `const __keneySourceFilename = __keneyFileURLToPath(__keneySourceUrl);\n` +
    `const __keneySourceDirname = __keneyFileURLToPath(new URL('.', __keneySourceUrl)).replace(/[\\\\/]$/, '');\n`
  );
}

/**
 * Compiles every source into a new directory, then swaps it in: a hub starting meanwhile sees either the old
 * complete build, no build (and runs the sources), or the new complete build — never half of one. Throws with
 * esbuild's messages (file, line) when a source does not compile.
 */
export async function buildHub({ root = ROOT, buildDir = BUILD_DIR } = {}) {
  const started = Date.now();
  const esbuild = await loadEsbuild();
  const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
  const sources = await withImports(esbuild, root, listSources(root));
  const files = {};
  for (const path of INPUTS) files[path] = stamp(root, path);
  const staging = `${buildDir}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  const failures = [];
  const BATCH = 32;
  for (let i = 0; i < sources.length; i += BATCH) {
    await Promise.all(
      sources.slice(i, i + BATCH).map(async (path) => {
        const sourcePath = join(root, path);
        const before = stamp(root, path);
        if (path.endsWith('.mjs')) {
          const outPath = join(staging, path);
          const toSource = relative(dirname(join(buildDir, path)), sourcePath)
            .split(sep)
            .join('/');
          await mkdir(dirname(outPath), { recursive: true });
          await writeFile(outPath, `export * from ${JSON.stringify(toSource)};\n`);
          files[path] = before;
          return;
        }
        const text = readFileSync(sourcePath, 'utf8');
        const outPath = join(staging, path.replace(/\.ts$/, '.js'));
        const usesMeta = /import\.meta\.(url|dirname|filename)/.test(text);
        try {
          const result = await esbuild.transform(text, {
            loader: 'ts',
            format: 'esm',
            target: 'node20.19',
            sourcemap: 'external',
            sourcefile: relative(dirname(join(buildDir, path)), sourcePath)
              .split(sep)
              .join('/'),
            tsconfigRaw: { compilerOptions: tsconfig.compilerOptions ?? {} },
            ...(usesMeta
              ? {
                  define: {
                    'import.meta.url': '__keneySourceUrl',
                    'import.meta.dirname': '__keneySourceDirname',
                    'import.meta.filename': '__keneySourceFilename',
                  },
                  banner: sourceBanner(join(buildDir, path), sourcePath),
                }
              : {}),
          });
          await mkdir(dirname(outPath), { recursive: true });
          const mapName = `${path.split('/').pop().replace(/\.ts$/, '.js')}.map`;
          await writeFile(outPath, `${result.code}//# sourceMappingURL=${mapName}\n`);
          await writeFile(`${outPath}.map`, result.map);
          files[path] = before;
        } catch (error) {
          failures.push(describeErrors(error, path));
        }
      }),
    );
  }
  if (failures.length > 0) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`${failures.length} source file(s) do not compile:\n${failures.join('\n')}`);
  }
  await writeFile(
    join(staging, MANIFEST),
    JSON.stringify({ format: FORMAT, builtAt: new Date().toISOString(), files }),
  );
  await mkdir(dirname(buildDir), { recursive: true });
  const old = `${buildDir}.${process.pid}.old`;
  if (existsSync(buildDir)) await rename(buildDir, old);
  await rename(staging, buildDir);
  await rm(old, { recursive: true, force: true });
  return { files: sources.length, ms: Date.now() - started };
}

// The empty embedded database. Creating a PGlite database (initdb) takes 6–12 s; loading the same empty database
// from a tarball takes about a second. The build makes that tarball once per PGlite release (it depends on nothing
// else: the hub's tables are made by its migrations after the load), and the hub uses it for a new data directory
// only when the installed PGlite is the one that made it (`pgliteTemplate`); otherwise it runs initdb, as before.
export const PGLITE_TEMPLATE_DIR = join(ROOT, 'dist', 'pglite-template');
const PGLITE_TEMPLATE_FILE = 'empty.tar.gz';

/** The installed PGlite: its version and the size and time of the files that make a database. */
function pgliteStamp(root) {
  const require = createRequire(join(root, 'package.json'));
  const dist = dirname(require.resolve('@electric-sql/pglite'));
  const { version } = JSON.parse(readFileSync(join(dist, '..', 'package.json'), 'utf8'));
  const files = {};
  for (const name of ['initdb.wasm', 'pglite.wasm', 'pglite.data']) files[name] = stamp(dist, name);
  return { version, files };
}

/**
 * The tarball of an empty database made by the installed PGlite, or why there is none usable (`{ reason }`).
 * Costs three stats.
 */
export function pgliteTemplate(root = ROOT, templateDir = PGLITE_TEMPLATE_DIR) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(templateDir, MANIFEST), 'utf8'));
  } catch {
    return { reason: 'no empty-database template in dist/pglite-template (npm run build:hub makes it)' };
  }
  let current;
  try {
    current = pgliteStamp(root);
  } catch (error) {
    return { reason: `PGlite is not installed as expected (${error.message})` };
  }
  if (JSON.stringify(manifest.pglite) !== JSON.stringify(current))
    return {
      reason: `the empty-database template was made by PGlite ${manifest.pglite?.version}, not by the installed ${current.version} (npm run build:hub remakes it)`,
    };
  return { path: join(templateDir, PGLITE_TEMPLATE_FILE) };
}

/** Makes the template unless the one there is from the installed PGlite. */
export async function buildPgliteTemplate({ root = ROOT, templateDir = PGLITE_TEMPLATE_DIR } = {}) {
  if (pgliteTemplate(root, templateDir).path) return { made: false };
  const started = Date.now();
  const require = createRequire(join(root, 'package.json'));
  const { PGlite } = await import(pathToFileURL(require.resolve('@electric-sql/pglite')).href.replace(/\.cjs$/, '.js'));
  const db = await PGlite.create('memory://');
  const tarball = Buffer.from(await (await db.dumpDataDir('none')).arrayBuffer());
  await db.close();
  const { gzipSync } = await import('node:zlib');
  const staging = `${templateDir}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeFile(join(staging, PGLITE_TEMPLATE_FILE), gzipSync(tarball));
  await writeFile(join(staging, MANIFEST), JSON.stringify({ format: FORMAT, pglite: pgliteStamp(root) }));
  const old = `${templateDir}.${process.pid}.old`;
  if (existsSync(templateDir)) await rename(templateDir, old);
  await rename(staging, templateDir);
  await rm(old, { recursive: true, force: true });
  return { made: true, ms: Date.now() - started };
}

/**
 * The R4 StructureDefinitions without their documentation (store/fhir/definitions-slim.mjs), unless the copy there
 * was made from the installed files.
 */
export async function buildSlimDefinitions() {
  const slim = await import('../store/fhir/definitions-slim.mjs');
  const inputs = JSON.stringify(slim.slimInputs());
  const manifestPath = join(slim.SLIM_DIR, MANIFEST);
  if (existsSync(manifestPath) && readFileSync(manifestPath, 'utf8') === inputs) return { made: false };
  const started = Date.now();
  const staging = `${slim.SLIM_DIR}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  for (const name of slim.SLIMMED_FILES) {
    const bundle = JSON.parse(readFileSync(join(slim.DEFINITIONS_DIR, name), 'utf8'));
    await writeFile(join(staging, name), JSON.stringify(slim.slimStructureDefinitionBundle(bundle)));
  }
  await writeFile(join(staging, MANIFEST), inputs);
  const old = `${slim.SLIM_DIR}.${process.pid}.old`;
  if (existsSync(slim.SLIM_DIR)) await rename(slim.SLIM_DIR, old);
  await rename(staging, slim.SLIM_DIR);
  await rm(old, { recursive: true, force: true });
  return { made: true, ms: Date.now() - started };
}

// `node hub/build.mjs` builds and fails loudly (npm run build:hub); `--prepare` (npm install) never fails the
// install: without the build the hub still runs, from the sources, and says so at each start; without the template
// a new data directory is created by initdb, as before.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const prepare = process.argv.includes('--prepare');
  try {
    const { files, ms } = await buildHub();
    console.warn(`[keney] Hub compiled: ${files} files into ${relative(ROOT, BUILD_DIR)} in ${ms} ms.`);
  } catch (error) {
    console.error(`[keney] The hub could not be compiled: ${error.message}`);
    if (prepare) console.error('[keney] `keney` runs from the TypeScript sources (slower start) until it is.');
    else process.exitCode = 1;
  }
  try {
    const definitions = await buildSlimDefinitions();
    if (definitions.made) console.warn(`[keney] Slim R4 definitions written to dist/fhir-r4 in ${definitions.ms} ms.`);
  } catch (error) {
    console.error(`[keney] The slim R4 definitions could not be written: ${error.message}`);
    if (prepare) console.error('[keney] The hub reads the full ones instead (a slower start).');
    else process.exitCode = 1;
  }
  try {
    const template = await buildPgliteTemplate();
    if (template.made)
      console.warn(
        `[keney] Empty embedded database made in ${relative(ROOT, PGLITE_TEMPLATE_DIR)} in ${template.ms} ms.`,
      );
  } catch (error) {
    console.error(`[keney] The empty embedded database could not be made: ${error.message}`);
    if (prepare) console.error('[keney] A new data directory is created by initdb instead (several seconds).');
    else process.exitCode = 1;
  }
}
