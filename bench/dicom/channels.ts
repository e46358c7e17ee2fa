// What a DICOM channel costs: C-STORE instances/s from storescu into a whole embedded hub (PGlite on disk, SQL
// log, filesystem blobs: what `npm start` runs), with three channel setups, each on a fresh hub, in alternating
// order over the rounds:
//   - archive only: a channel whose filter takes nothing (the instance archived, its message stored, filtered);
//   - record: the built-in channel (archive, message, the change set durable before the sender's answer);
//   - record + forward: the same plus a C-STORE destination to dcmtk's storescp (queued: the sender is answered
//     before the forward; the time until the last instance reached the peer is reported too).
//   npx tsx bench/dicom/channels.ts [--files 100] [--rounds 2]
// Needs dcmtk. Everything on loopback; work directory bench/.work/dicom-channels (removed at the end).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { syntheticInstance } from '../../adapters/dicom/test-support.js';
import { Tag } from '../../adapters/dicom/tags.js';
import { dicomModule } from '../../connectors/dicom/hub/dicom-module.js';
import { freePort } from '../../connectors/dicom/test-support.js';
import { staticRegistry } from '../../engine/mapper-registry.js';
import { channelsModule } from '../../engine/module.js';
import { loadConfig } from '../../hub/config.js';
import { createHub } from '../../hub/hub.js';
import { createLogger } from '../../hub/logger.js';

const run = promisify(execFile);
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const FILES = arg('files', 100);
const ROUNDS = arg('rounds', 2);
const root = join(import.meta.dirname, '..', '.work', 'dicom-channels');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const Setup = { Archive: 'archive only', Record: 'record', Forward: 'record + forward' } as const;
type Setup = (typeof Setup)[keyof typeof Setup];

/** Small CT-like instances (128x128, 16 bit, ~33 KB), new UIDs per set. */
async function writeSet(dir: string, label: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const study = syntheticInstance().studyInstanceUid;
  const series = syntheticInstance().seriesInstanceUid;
  const pixels = new Uint8Array(128 * 128 * 2).map((_, i) => (i * 7) & 0xff);
  const paths: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const { file } = syntheticInstance({
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      studyInstanceUid: study,
      seriesInstanceUid: series,
      extra: [
        { tag: Tag.PatientName, value: `Bench^${label}` },
        { tag: Tag.PatientID, value: `BENCH-${label}` },
        { tag: Tag.IssuerOfPatientID, value: 'BENCH' },
        { tag: Tag.Modality, value: 'CT' },
        { tag: Tag.InstanceNumber, value: String(i + 1) },
        { tag: Tag.Rows, value: 128 },
        { tag: Tag.Columns, value: 128 },
        { tag: Tag.BitsAllocated, value: 16 },
        { tag: Tag.BitsStored, value: 12 },
        { tag: Tag.HighBit, value: 11 },
        { tag: Tag.PixelData, vr: 'OW', value: pixels },
      ],
    });
    const path = join(dir, `${String(i).padStart(5, '0')}.dcm`);
    await writeFile(path, file);
    paths.push(path);
  }
  return paths;
}

function channelFile(setup: Setup, pacsPort: number): string | undefined {
  switch (setup) {
    case Setup.Archive:
      return 'source: { type: dicom }\nfilters: [{ field: Modality, equals: NONE }]\ndestinations: [{ type: store }]\n';
    case Setup.Record:
      return undefined; // the built-in channel
    case Setup.Forward:
      return `source: { type: dicom }\ndestinations:\n  - type: store\n  - type: dicom\n    name: pacs\n    aeTitle: PACS_BENCH\n    host: 127.0.0.1\n    port: ${pacsPort}\n    retry: { maxAttempts: 100, initialDelayMs: 100, maxDelayMs: 1000 }\n`;
    default:
      return setup satisfies never;
  }
}

async function waitFor(check: () => Promise<boolean>, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function measure(setup: Setup, round: number): Promise<{ perSecond: number; forwardedAfterS?: number }> {
  const work = join(root, `${round}-${setup.replace(/\W+/g, '-')}`);
  const channelsDir = join(work, 'channels-dicom');
  const pacsDir = join(work, 'pacs');
  await mkdir(channelsDir, { recursive: true });
  await mkdir(pacsDir, { recursive: true });
  const pacsPort = await freePort();
  const file = channelFile(setup, pacsPort);
  if (file) await writeFile(join(channelsDir, 'bench.channel.yaml'), file);
  const paths = await writeSet(join(work, 'files'), `${round}${setup.length}`);
  let pacs: ChildProcess | undefined;
  if (setup === Setup.Forward) {
    pacs = spawn('storescp', ['-aet', 'PACS_BENCH', '-od', pacsDir, String(pacsPort)], { stdio: 'ignore' });
  }
  const channels = channelsModule({
    channelsDir: join(work, 'no-hl7'),
    mappers: staticRegistry([]),
    env: {},
    watch: false,
  });
  const dicom = dicomModule({ port: 0, host: '127.0.0.1', channels, channelsDir, deliveryPollMs: 200 });
  const config = loadConfig({
    KENEY_DATA_DIR: join(work, 'data'),
    KENEY_HTTP_PORT: '0',
    KENEY_HTTP_HOST: '127.0.0.1',
    KENEY_ADMIN_TOKEN: 'kny_bench_0123456789abcdef0123456789abcdef',
  });
  const hub = await createHub(config, { modules: [channels, dicom], logger: createLogger('error') });
  await hub.start();
  try {
    const start = process.hrtime.bigint();
    await run('storescu', ['-aec', 'KENEY', '127.0.0.1', String(dicom.dimsePort), ...paths], { maxBuffer: 64 << 20 });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    let forwardedAfterS: number | undefined;
    if (setup === Setup.Forward) {
      const all = await waitFor(async () => (await readdir(pacsDir)).length >= FILES, 300_000);
      if (!all) throw new Error('the forward did not deliver every instance within 5 minutes');
      forwardedAfterS = Number(process.hrtime.bigint() - start) / 1e9;
    }
    return { perSecond: FILES / seconds, ...(forwardedAfterS !== undefined ? { forwardedAfterS } : {}) };
  } finally {
    await hub.stop();
    if (pacs && pacs.exitCode === null) {
      const exited = new Promise((resolve) => pacs.once('exit', resolve));
      pacs.kill('SIGTERM');
      await exited;
    }
  }
}

async function main(): Promise<void> {
  await rm(root, { recursive: true, force: true });
  const setups = Object.values(Setup);
  const results = new Map<Setup, { perSecond: number[]; forwardedAfterS: number[] }>(
    setups.map((s) => [s, { perSecond: [], forwardedAfterS: [] }]),
  );
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? setups : [...setups].reverse();
      for (const setup of order) {
        const r = await measure(setup, round);
        results.get(setup)!.perSecond.push(r.perSecond);
        if (r.forwardedAfterS !== undefined) results.get(setup)!.forwardedAfterS.push(r.forwardedAfterS);
        process.stdout.write(
          `round ${round + 1} ${setup}: ${r.perSecond.toFixed(1)} instances/s${r.forwardedAfterS !== undefined ? `, all at the peer after ${r.forwardedAfterS.toFixed(1)} s` : ''}\n`,
        );
      }
    }
    const base = median(results.get(Setup.Archive)!.perSecond);
    process.stdout.write(`\n${FILES} files x ${ROUNDS} rounds, medians (ratio to archive only):\n`);
    for (const setup of setups) {
      const r = results.get(setup)!;
      const m = median(r.perSecond);
      process.stdout.write(
        `${setup.padEnd(17)} ${m.toFixed(1).padStart(6)} instances/s  ${(m / base).toFixed(2)}${r.forwardedAfterS.length ? `  (all forwarded after ${median(r.forwardedAfterS).toFixed(1)} s)` : ''}\n`,
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
