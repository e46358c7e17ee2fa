// DICOM benchmark: Keney's DICOM service vs Orthanc on the same machine, same files, alternating runs.
//   npx tsx bench/dicom/run.ts [--files 200] [--rounds 3] [--requests 100]
// Needs dcmtk (storescu) and orthanc + orthanc-dicomweb (Debian). Reports ratios (ours / Orthanc):
// C-STORE instances/s from storescu, STOW-RS p95 latency (one instance per request), QIDO-RS p95.
// Everything runs on loopback; the work directory is bench/.work/dicom (removed at the end).
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { syntheticInstance } from '../../adapters/dicom/test-support.js';
import { Tag } from '../../adapters/dicom/tags.js';
import { dicomWebPlugin } from '../../connectors/dicom/dicomweb/plugin.js';
import { buildMultipart } from '../../connectors/dicom/dicomweb/multipart.js';
import { DicomService } from '../../connectors/dicom/dicom-service.js';
import { freePort } from '../../connectors/dicom/test-support.js';
import { FsBlobStore } from '../../store/blob/fs-blob-store.js';
import { PgliteClient } from '../../store/sql/pglite-client.js';

const run = promisify(execFile);
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const FILES = arg('files', 200);
const ROUNDS = arg('rounds', 3);
const REQUESTS = arg('requests', 100);
const root = join(import.meta.dirname, '..', '.work', 'dicom');
const script = join(import.meta.dirname, '..', '..', 'scripts', 'services', 'orthanc.sh');

function p95(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A set of instances like a small CT series: 128x128 16-bit, ~33 KB each, new UIDs per set. */
function makeSet(count: number, label: string): Buffer[] {
  const study = syntheticInstance().studyInstanceUid;
  const series = syntheticInstance().seriesInstanceUid;
  const pixels = new Uint8Array(128 * 128 * 2).map((_, i) => (i * 7) & 0xff);
  return Array.from(
    { length: count },
    (_, i) =>
      syntheticInstance({
        sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
        studyInstanceUid: study,
        seriesInstanceUid: series,
        extra: [
          { tag: Tag.PatientName, value: `Bench^${label}` },
          { tag: Tag.PatientID, value: `BENCH-${label}` },
          { tag: Tag.Modality, value: 'CT' },
          { tag: Tag.InstanceNumber, value: String(i + 1) },
          { tag: Tag.Rows, value: 128 },
          { tag: Tag.Columns, value: 128 },
          { tag: Tag.BitsAllocated, value: 16 },
          { tag: Tag.BitsStored, value: 12 },
          { tag: Tag.HighBit, value: 11 },
          { tag: Tag.PixelData, vr: 'OW', value: pixels },
        ],
      }).file,
  );
}

async function writeSet(files: Buffer[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  return Promise.all(
    files.map(async (file, i) => {
      const path = join(dir, `${String(i).padStart(5, '0')}.dcm`);
      await writeFile(path, file);
      return path;
    }),
  );
}

async function storescu(aet: string, port: number, paths: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  await run('storescu', ['-aec', aet, '127.0.0.1', String(port), ...paths], { maxBuffer: 64 << 20 });
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function timed(fn: () => Promise<Response>): Promise<number> {
  const start = process.hrtime.bigint();
  const response = await fn();
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main(): Promise<void> {
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const sql = await PgliteClient.open(join(root, 'pglite'));
  const service = await DicomService.create({
    sql,
    blobs: new FsBlobStore(join(root, 'blobs')),
    port: 0,
    host: '127.0.0.1',
  });
  const ourDimse = (await service.startDimse()).port;
  const app = Fastify({ bodyLimit: 1 << 30 });
  await app.register(dicomWebPlugin, { service, prefix: '/dicomweb' });
  const ourHttpPort = await freePort();
  await app.listen({ host: '127.0.0.1', port: ourHttpPort });
  const orthancHttp = await freePort();
  const orthancDimse = await freePort();
  const env = {
    ...process.env,
    KENEY_ORTHANC_WORK: join(root, 'orthanc'),
    KENEY_ORTHANC_HTTP_PORT: String(orthancHttp),
    KENEY_ORTHANC_DICOM_PORT: String(orthancDimse),
  };
  await run('bash', [script, 'start'], { env });
  const ours = `http://127.0.0.1:${ourHttpPort}/dicomweb`;
  const theirs = `http://127.0.0.1:${orthancHttp}/dicom-web`;
  try {
    // C-STORE throughput, alternating which system goes first.
    const rate = { ours: [] as number[], orthanc: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const a = await writeSet(makeSet(FILES, `A${round}`), join(root, `a${round}`));
      const b = await writeSet(makeSet(FILES, `B${round}`), join(root, `b${round}`));
      const order = round % 2 === 0 ? ['ours', 'orthanc'] : ['orthanc', 'ours'];
      for (const who of order) {
        const seconds =
          who === 'ours' ? await storescu('KENEY', ourDimse, a) : await storescu('ORTHANC', orthancDimse, b);
        rate[who as 'ours' | 'orthanc'].push(FILES / seconds);
      }
    }
    // STOW-RS: one instance per request, alternating.
    const stow = { ours: [] as number[], orthanc: [] as number[] };
    const stowFilesA = makeSet(REQUESTS, 'STOWA');
    const stowFilesB = makeSet(REQUESTS, 'STOWB');
    for (let i = 0; i < REQUESTS; i++) {
      for (const [who, base, file] of [
        ['ours', ours, stowFilesA[i]!],
        ['orthanc', theirs, stowFilesB[i]!],
      ] as const) {
        const { body, boundary } = buildMultipart([{ contentType: 'application/dicom', body: file }]);
        stow[who].push(
          await timed(() =>
            fetch(`${base}/studies`, {
              method: 'POST',
              headers: {
                'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
                accept: 'application/dicom+json',
              },
              body: new Uint8Array(body),
            }),
          ),
        );
      }
    }
    // QIDO-RS: studies by patient name prefix, alternating.
    const qido = { ours: [] as number[], orthanc: [] as number[] };
    for (let i = 0; i < REQUESTS; i++) {
      const query = `PatientName=Bench%5EA${i % ROUNDS}*&limit=50`;
      for (const [who, base] of [
        ['ours', ours],
        ['orthanc', theirs],
      ] as const) {
        qido[who].push(
          await timed(() => fetch(`${base}/studies?${query}`, { headers: { accept: 'application/dicom+json' } })),
        );
      }
    }
    const result = {
      machine: `${process.platform} ${process.arch}, Node ${process.version}`,
      files: FILES,
      rounds: ROUNDS,
      requests: REQUESTS,
      cStoreInstancesPerSecond: {
        ours: median(rate.ours),
        orthanc: median(rate.orthanc),
        ratio: median(rate.ours) / median(rate.orthanc),
      },
      stowP95Ms: { ours: p95(stow.ours), orthanc: p95(stow.orthanc), ratio: p95(stow.ours) / p95(stow.orthanc) },
      qidoP95Ms: { ours: p95(qido.ours), orthanc: p95(qido.orthanc), ratio: p95(qido.ours) / p95(qido.orthanc) },
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await run('bash', [script, 'stop'], { env }).catch(() => undefined);
    await app.close();
    await service.stop();
    await sql.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
