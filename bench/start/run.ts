// Hub start time: `node bin/keney.js serve` started N times on the embedded profile, the time from the spawn to the
// first 200 on /fhir/metadata, on a new data directory (cold) and on the one that start left (warm); the current
// tree against a baseline commit (the previous way of starting: tsx over the sources, full R4 definitions, initdb),
// run in turn on the same machine. Prints the medians and the baseline/current ratios.
//
//   npx tsx bench/start/run.ts [--rounds 5] [--baseline 0308624] [--no-sources]
//
// The baseline is the tree of that commit (git archive) in $TMPDIR/keney-start-baseline-<commit>, with this
// repository's node_modules. The current tree is built first if it is not (the build is not timed); "sources" is
// the current tree with KENEY_FROM_SOURCES=1 (tsx, but the slim definitions and the database template), to tell the
// parts apart.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildHub, checkBuild } from '../../hub/build.mjs';
import { freePort } from '../../test/ports.js';

const ROOT = join(import.meta.dirname, '..', '..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    baseline: { type: 'string', default: '0308624' },
    'no-sources': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);

interface Variant {
  name: string;
  cwd: string;
  env: Record<string, string>;
  compiled?: boolean;
}

function baselineTree(ref: string): string {
  const commit = execFileSync('git', ['rev-parse', '--short', ref], { cwd: ROOT, encoding: 'utf8' }).trim();
  // Outside the repository: its tests must not join the suite, nor its sources the build.
  const dir = join(tmpdir(), `keney-start-baseline-${commit}`);
  if (!existsSync(join(dir, 'bin', 'keney.js'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C '${dir}'`], { cwd: ROOT });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  }
  return dir;
}

let running: ChildProcess | undefined;
let scratch = '';
// Interrupted: no hub left behind, no scratch directory.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    running?.kill('SIGKILL');
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    process.exit(130);
  });

/** Starts the hub, returns the milliseconds to the first 200 on /fhir/metadata, stops it. */
async function timeStart(variant: Variant, dataDir: string): Promise<number> {
  // Others may edit the sources meanwhile: the compiled variant is measured compiled (the build is not timed).
  if (variant.compiled && !checkBuild().ok) await buildHub();
  const [http, mllp, dicom] = [await freePort(), await freePort(), await freePort()];
  const started = performance.now();
  const child = spawn(process.execPath, ['bin/keney.js', 'serve'], {
    cwd: variant.cwd,
    env: {
      ...process.env,
      KENEY_DATA_DIR: dataDir,
      KENEY_HTTP_HOST: '127.0.0.1',
      KENEY_HTTP_PORT: String(http),
      KENEY_MLLP_PORT: String(mllp),
      KENEY_DICOM_PORT: String(dicom),
      KENEY_LOG_LEVEL: 'warn',
      ...variant.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running = child;
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${variant.name}: the hub exited before answering:\n${output}`);
      if (performance.now() - started > 180_000) throw new Error(`${variant.name}: no answer in 180 s:\n${output}`);
      const status = await fetch(`http://127.0.0.1:${http}/fhir/metadata`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) {
        const elapsed = performance.now() - started;
        if (variant.compiled && output.includes('running from the TypeScript sources'))
          throw new Error(`${variant.name}: the hub did not run compiled:\n${output}`);
        return elapsed;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const variants: Variant[] = [
  { name: `baseline ${values.baseline}`, cwd: baselineTree(values.baseline!), env: {} },
  { name: 'current', cwd: ROOT, env: {}, compiled: true },
  ...(values['no-sources'] ? [] : [{ name: 'current, sources', cwd: ROOT, env: { KENEY_FROM_SOURCES: '1' } }]),
];
const times = new Map(variants.map((v) => [v.name, { cold: [] as number[], warm: [] as number[] }]));
scratch = mkdtempSync(join(tmpdir(), 'keney-start-bench-'));
const loads: number[] = [];
console.log(`Node ${process.version}, ${rounds} rounds, load average at start ${loadavg()[0]!.toFixed(1)}`);
try {
  for (let round = 0; round < rounds; round++) {
    // Turns rotate so that no variant always runs first (right after another's exit).
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
    for (const variant of order) {
      const dataDir = join(scratch, `${round}-${variants.indexOf(variant)}`);
      const cold = await timeStart(variant, dataDir);
      const warm = await timeStart(variant, dataDir);
      rmSync(dataDir, { recursive: true, force: true });
      times.get(variant.name)!.cold.push(cold);
      times.get(variant.name)!.warm.push(warm);
      loads.push(loadavg()[0]!);
      console.log(
        `round ${round + 1} ${variant.name.padEnd(22)} cold ${(cold / 1000).toFixed(2)} s, warm ${(warm / 1000).toFixed(2)} s`,
      );
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const base = times.get(variants[0]!.name)!;
console.log(`\nmedian seconds to the first 200 on /fhir/metadata (load average ${median(loads).toFixed(1)}):`);
console.log(`${'variant'.padEnd(24)} ${'cold'.padStart(7)} ${'warm'.padStart(7)}   baseline/variant cold, warm`);
for (const variant of variants) {
  const t = times.get(variant.name)!;
  const [cold, warm] = [median(t.cold), median(t.warm)];
  console.log(
    `${variant.name.padEnd(24)} ${(cold / 1000).toFixed(2).padStart(7)} ${(warm / 1000).toFixed(2).padStart(7)}   ` +
      `${(median(base.cold) / cold).toFixed(2)}×, ${(median(base.warm) / warm).toFixed(2)}×`,
  );
}
