// bench/xds — the XDS.b repository + registry against a plain PostgreSQL registry, side by side on the same server:
//  1. ITI-41 Provide and Register: N submissions (1 SubmissionSet + 1 DocumentEntry + HasMember + a ≈2 KB document
//     each, over P test patients) POSTed as MTOM to a real hub process (`keney serve`, server profile: PostgreSQL +
//     SQL log) by C concurrent clients; vs the same metadata and bytes INSERTed by C connections, one transaction
//     per submission, into hand-written tables (submission set, document entry with its bytes, association) in a
//     fresh database of the same PostgreSQL server. Both run in rounds, alternating which goes first.
//  2. ITI-18 FindDocuments (patient + Approved, LeafClass) at N documents: p50/p95 over S queries, one client,
//     alternating between the hub and the peer's indexed SELECT of the same entries' metadata.
// Usage: npx tsx bench/xds/run.ts [--submissions 3000] [--patients 300] [--concurrency 4] [--samples 300] [--rounds 10]
//        [--hub-url http://127.0.0.1:8080 --hub-token <admin token>]: a hub already running (e.g. under --cpu-prof)
//        instead of one started on a fresh database.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { scratchDatabase } from '../common/scratch-database.js';
import {
  AvailabilityStatus,
  buildAdhocQueryRequest,
  buildProvideAndRegisterRequest,
  buildSoapEnvelope,
  parseRegistryObjectList,
  parseRegistryResponse,
  readSoapRequest,
  SoapAction,
  StoredQueryId,
  type RegistryObjectList,
} from '../../adapters/xds/index.js';
import { Ns } from '../../adapters/xds/constants.js';
import { childElement } from '../../adapters/xml/index.js';
import { frenchSubmission } from '../../fixtures/xds/french-submission.js';
import { startHubProcess } from '../../test/hub-process.js';

const { values: args } = parseArgs({
  options: {
    submissions: { type: 'string', default: '3000' },
    patients: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '4' },
    samples: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '10' },
    'hub-url': { type: 'string' },
    'hub-token': { type: 'string' },
  },
});
const SUBMISSIONS = Number(args.submissions);
const PATIENTS = Number(args.patients);
const CONCURRENCY = Number(args.concurrency);
const SAMPLES = Number(args.samples);
const ROUNDS = Number(args.rounds);
const REPOSITORY = '1.2.250.1.999.77.1';
const INS_OID = '1.2.250.1.213.1.4.10';

/** A test INS (13 digits + the NIR key), synthetic: never a real person. */
function testIns(n: number): string {
  const body = `2770775${String(100000 + n).padStart(6, '0')}`;
  const key = 97 - Number(BigInt(body) % 97n);
  return `${body}${String(key).padStart(2, '0')}`;
}
const patientId = (p: number) => `${testIns(p)}^^^&${INS_OID}&ISO`;

interface Submission {
  objects: RegistryObjectList;
  document: Buffer;
}

function submission(n: number): Submission {
  const document = Buffer.from(
    `Compte rendu de consultation n°${n} — patient test ${n % PATIENTS}.\n` +
      'Examen clinique sans particularité. '.repeat(55),
    'utf8',
  );
  const objects = frenchSubmission(document);
  const pid = patientId(n % PATIENTS);
  const set = objects.submissionSets[0]!;
  const entry = objects.documentEntries[0]!;
  set.uniqueId = `1.2.250.1.999.77.2.${n}`;
  set.patientId = pid;
  entry.uniqueId = `1.2.250.1.999.77.3.${n}`;
  entry.patientId = pid;
  entry.creationTime = `2024${String(1 + (n % 12)).padStart(2, '0')}${String(1 + (n % 28)).padStart(2, '0')}100000`;
  return { objects, document };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function pool<T>(items: readonly T[], workers: number, work: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
  return (performance.now() - started) / 1000;
}

// ---- the peer: the same metadata in hand-written PostgreSQL tables ----

const PEER_SCHEMA = `
CREATE TABLE submission_set (entry_uuid uuid PRIMARY KEY, unique_id text UNIQUE NOT NULL, patient_id text NOT NULL,
  submission_time text, metadata jsonb NOT NULL);
CREATE TABLE document_entry (entry_uuid uuid PRIMARY KEY, unique_id text UNIQUE NOT NULL, patient_id text NOT NULL,
  status text NOT NULL, class_code text, type_code text, creation_time text, hash text NOT NULL, size int NOT NULL,
  metadata jsonb NOT NULL, document bytea NOT NULL);
CREATE INDEX document_entry_patient ON document_entry (patient_id, status);
CREATE TABLE association (entry_uuid uuid PRIMARY KEY, type text NOT NULL, source uuid NOT NULL, target uuid NOT NULL);
CREATE INDEX association_source ON association (source);
CREATE INDEX association_target ON association (target);`;

async function peerSubmit(client: pg.PoolClient, s: Submission): Promise<void> {
  const set = s.objects.submissionSets[0]!;
  const entry = s.objects.documentEntries[0]!;
  const setUuid = randomUUID();
  const entryUuid = randomUUID();
  await client.query('BEGIN');
  try {
    await client.query('INSERT INTO submission_set VALUES ($1, $2, $3, $4, $5)', [
      setUuid,
      set.uniqueId,
      set.patientId,
      set.submissionTime,
      JSON.stringify(set),
    ]);
    await client.query('INSERT INTO document_entry VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)', [
      entryUuid,
      entry.uniqueId,
      entry.patientId,
      AvailabilityStatus.approved,
      entry.classCode ? `${entry.classCode.code}^^${entry.classCode.codingScheme}` : null,
      entry.typeCode ? `${entry.typeCode.code}^^${entry.typeCode.codingScheme}` : null,
      entry.creationTime,
      createHash('sha1').update(s.document).digest('hex'),
      s.document.length,
      JSON.stringify(entry),
      s.document,
    ]);
    await client.query('INSERT INTO association VALUES ($1, $2, $3, $4)', [
      randomUUID(),
      'urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember',
      setUuid,
      entryUuid,
    ]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

// ---- the hub: ITI-41 and ITI-18 over HTTP ----

async function hubSubmit(url: string, auth: string, s: Submission): Promise<void> {
  const message = buildProvideAndRegisterRequest(
    s.objects,
    [{ id: s.objects.documentEntries[0]!.id, bytes: s.document, mimeType: 'text/plain' }],
    { to: `${url}/xds/repository` },
  );
  const response = await fetch(`${url}/xds/repository`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': message.contentType },
    body: new Uint8Array(message.body),
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  const { envelope } = readSoapRequest(bytes, response.headers.get('content-type') ?? '');
  const status = parseRegistryResponse(envelope.body).status;
  if (!status.endsWith(':Success')) throw new Error(`ITI-41 ${response.status}: ${bytes.toString().slice(0, 800)}`);
}

async function hubFindDocuments(url: string, auth: string, pid: string): Promise<number> {
  const body = buildSoapEnvelope(
    buildAdhocQueryRequest(StoredQueryId.findDocuments, {
      $XDSDocumentEntryPatientId: pid,
      $XDSDocumentEntryStatus: [AvailabilityStatus.approved],
    }),
    { action: SoapAction.registryStoredQuery },
  );
  const response = await fetch(`${url}/xds/registry`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/soap+xml; charset=UTF-8' },
    body,
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  const { envelope } = readSoapRequest(bytes, response.headers.get('content-type') ?? '');
  const list = childElement(envelope.body, Ns.rim, 'RegistryObjectList');
  if (!list) throw new Error(`ITI-18 ${response.status}: ${bytes.toString().slice(0, 800)}`);
  return parseRegistryObjectList(list).objects.documentEntries.length;
}

async function startHub(cleanups: (() => Promise<void>)[]): Promise<{ url: string; token: string }> {
  const hubDb = await scratchDatabase('keney_bench_xds');
  cleanups.push(hubDb.drop);
  const dataDir = await mkdtemp(join(tmpdir(), 'keney-bench-xds-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const token = `kny_bench_${randomBytes(12).toString('hex')}`;
  const hub = await startHubProcess({
    KENEY_DATA_DIR: dataDir,
    KENEY_DATABASE_URL: hubDb.url,
    KENEY_ADMIN_TOKEN: token,
    KENEY_XDS_REPOSITORY_ID: REPOSITORY,
  });
  cleanups.push(async () => void (await hub.kill('SIGTERM')));
  return { url: hub.url, token };
}

async function main(): Promise<void> {
  console.log(
    `bench/xds: ${SUBMISSIONS} submissions over ${PATIENTS} patients, ${CONCURRENCY} clients, ${SAMPLES} queries`,
  );
  const submissions = Array.from({ length: SUBMISSIONS }, (_, n) => submission(n));
  const cleanups: (() => Promise<void>)[] = [];
  try {
    // The hub, server profile, on a fresh database (or the one given).
    const hub = args['hub-url'] ? { url: args['hub-url'], token: args['hub-token'] ?? '' } : await startHub(cleanups);
    const auth = `Bearer ${hub.token}`;

    // The peer, on another fresh database of the same server.
    const peerDb = await scratchDatabase('keney_bench_xds');
    cleanups.push(peerDb.drop);
    const peer = new pg.Pool({ connectionString: peerDb.url, max: CONCURRENCY });
    peer.on('error', () => undefined); // an idle client ended by DROP DATABASE … WITH (FORCE) at the end
    cleanups.push(() => peer.end());
    await peer.query(PEER_SCHEMA);

    // Warm-up outside the measurement (JIT, definitions, connections, the patients' first documents).
    const warm = Array.from({ length: 20 }, (_, i) => submission(SUBMISSIONS + 1_000_000 + i));
    for (const s of warm) await hubSubmit(hub.url, auth, s);
    for (const s of warm) {
      const client = await peer.connect();
      await peerSubmit(client, s).finally(() => client.release());
    }

    // 1. ITI-41 throughput, in rounds that alternate which side goes first, so both see the same machine load.
    let hubSeconds = 0;
    let peerSeconds = 0;
    const perRound = Math.ceil(SUBMISSIONS / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      const batch = submissions.slice(round * perRound, (round + 1) * perRound);
      const runHub = async () => (hubSeconds += await pool(batch, CONCURRENCY, (s) => hubSubmit(hub.url, auth, s)));
      const runPeer = async () =>
        (peerSeconds += await pool(batch, CONCURRENCY, async (s) => {
          const client = await peer.connect();
          await peerSubmit(client, s).finally(() => client.release());
        }));
      if (round % 2 === 0) await runHub().then(runPeer);
      else await runPeer().then(runHub);
    }
    const hubRate = SUBMISSIONS / hubSeconds;
    const peerRate = SUBMISSIONS / peerSeconds;
    console.log(
      `ITI-41 submissions/s: hub ${hubRate.toFixed(1)} (${hubSeconds.toFixed(1)} s) | PostgreSQL ${peerRate.toFixed(1)} (${peerSeconds.toFixed(2)} s) | ratio hub/peer = ${(hubRate / peerRate).toFixed(3)}`,
    );
    await peer.query('VACUUM ANALYZE');

    // 2. ITI-18 FindDocuments latency, alternating.
    const perPatient = Math.floor(SUBMISSIONS / PATIENTS);
    const hubTimes: number[] = [];
    const peerTimes: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const pid = patientId((i * 7919) % PATIENTS);
      let t0 = performance.now();
      const found = await hubFindDocuments(hub.url, auth, pid);
      hubTimes.push(performance.now() - t0);
      t0 = performance.now();
      const rows = await peer.query<{ metadata: unknown }>(
        'SELECT metadata, hash, size FROM document_entry WHERE patient_id = $1 AND status = $2',
        [pid, AvailabilityStatus.approved],
      );
      peerTimes.push(performance.now() - t0);
      if (found < perPatient || rows.rowCount !== found)
        throw new Error(
          `ITI-18 found ${found} entries for ${pid}, the peer ${rows.rowCount}; expected ≥ ${perPatient}`,
        );
    }
    hubTimes.sort((a, b) => a - b);
    peerTimes.sort((a, b) => a - b);
    const [h50, h95, p50, p95] = [
      percentile(hubTimes, 50),
      percentile(hubTimes, 95),
      percentile(peerTimes, 50),
      percentile(peerTimes, 95),
    ];
    console.log(
      `ITI-18 FindDocuments (${perPatient}+ entries each, ${SUBMISSIONS + 20} documents): hub p50 ${h50.toFixed(1)} ms p95 ${h95.toFixed(1)} ms | PostgreSQL p50 ${p50.toFixed(2)} ms p95 ${p95.toFixed(2)} ms | ratio p95 hub/peer = ${(h95 / p95).toFixed(1)}`,
    );
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

await main();
