// bench/store — the canonical store against its yardsticks, side by side on the same machine:
//  1. ingest: FHIR transaction Bundles (1 Patient + 9 Observations each) POSTed over HTTP to a real hub process,
//     with 8 concurrent clients, until every change set is applied; vs `psql \copy` of the same rows into the same
//     `resources` table (same indexes) on the PostgreSQL server. Profiles: embedded and cluster (or server).
//  2. search at ≥ 200,000 resources (server profile): p50/p95 of token, string and reference searches through the
//     hub's HTTP API, one client, vs the equivalent hand-written SQL run through pgbench, one client.
// Usage: npx tsx bench/store/run.ts [--ingest-bundles 1000] [--search-patients 20000] [--samples 300]
//        [--profiles embedded,cluster] [--skip-search] [--skip-ingest]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Bundle } from '@medplum/fhirtypes';
import pg from 'pg';
import { scratchDatabase } from '../common/scratch-database.js';
import { loadDefinitions } from '../../store/fhir/definitions.js';
import { SqlChangeLog } from '../../store/log/sql-log.js';
import { storeMigrations } from '../../store/migrations.js';
import { Projector } from '../../store/projection/projector.js';
import { CanonicalStore } from '../../store/canonical-store.js';
import { migrate } from '../../store/sql/migrate.js';
import { PostgresClient } from '../../store/sql/postgres-client.js';
import { prepareEmbeddedDataDir } from '../../test/databases.js';
import { startHubProcess } from '../../test/hub-process.js';

const { values: args } = parseArgs({
  options: {
    'ingest-bundles': { type: 'string', default: '1000' },
    'search-patients': { type: 'string', default: '20000' },
    samples: { type: 'string', default: '300' },
    profiles: { type: 'string', default: 'embedded,cluster' },
    'skip-search': { type: 'boolean', default: false },
    'skip-ingest': { type: 'boolean', default: false },
  },
});
const KAFKA = process.env.KENEY_BENCH_KAFKA_BROKERS ?? '127.0.0.1:9092';
import { IPP, SURNAMES, RESOURCES_PER_BUNDLE, bundleFor, rng } from './data.js';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function ingest(profile: string, bundles: number): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'keney-bench-'));
  const token = `kny_bench_${randomBytes(12).toString('hex')}`;
  const env: Record<string, string> = { KENEY_DATA_DIR: dataDir, KENEY_ADMIN_TOKEN: token };
  const cleanups: (() => Promise<void>)[] = [() => rm(dataDir, { recursive: true, force: true })];
  if (profile === 'embedded') await prepareEmbeddedDataDir(dataDir);
  else {
    const db = await scratchDatabase('keney_bench');
    cleanups.push(db.drop);
    env.KENEY_DATABASE_URL = db.url;
    if (profile === 'cluster')
      Object.assign(env, {
        KENEY_KAFKA_BROKERS: KAFKA,
        KENEY_KAFKA_TOPIC: `keney.bench.${randomBytes(4).toString('hex')}`,
        KENEY_LOG_PARTITIONS: '4',
      });
  }
  const hub = await startHubProcess(env);
  try {
    const headers = {
      authorization: `Bearer ${token}`,
      'content-type': 'application/fhir+json',
      prefer: 'return=minimal',
    };
    const payloads = Array.from({ length: bundles }, (_, n) => JSON.stringify(bundleFor(n)));
    // Warm-up (JIT, definitions, connections) outside the measurement.
    for (let n = 0; n < 20; n++)
      await fetch(`${hub.url}/fhir`, { method: 'POST', headers, body: JSON.stringify(bundleFor(1_000_000 + n)) });
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < payloads.length) {
          const body = payloads[next++]!;
          const response = await fetch(`${hub.url}/fhir`, { method: 'POST', headers, body });
          if (response.status !== 200) throw new Error(`ingest: ${response.status} ${await response.text()}`);
          await response.arrayBuffer();
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const ours = (bundles * RESOURCES_PER_BUNDLE) / seconds;

    // Yardstick: the same rows (the resources as stored, with ids and meta) through psql \copy into `resources`.
    const yard = await scratchDatabase('keney_bench');
    cleanups.push(yard.drop);
    const sql = new PostgresClient(yard.url, { max: 2 });
    await migrate(sql, storeMigrations);
    await sql.close();
    const lines: string[] = [];
    for (let n = 0; n < bundles; n++) {
      for (const [i, entry] of bundleFor(n).entry!.entries()) {
        const id = `${n}-${i}`;
        const resource = { ...entry.resource!, id, meta: { versionId: '1', lastUpdated: '2026-11-24T00:00:00.000Z' } };
        const json = JSON.stringify(resource).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
        lines.push(`${resource.resourceType}\t${id}\t1\t2026-11-24T00:00:00Z\tf\t${json}`);
      }
    }
    const file = join(dataDir, 'rows.tsv');
    await writeFile(file, lines.join('\n') + '\n');
    const copyStarted = performance.now();
    const copy = spawnSync(
      'psql',
      [
        yard.url,
        '-v',
        'ON_ERROR_STOP=1',
        '-q',
        '-c',
        `\\copy resources (resource_type, id, version_id, last_updated, deleted, content) FROM '${file}'`,
      ],
      { encoding: 'utf8' },
    );
    const copySeconds = (performance.now() - copyStarted) / 1000;
    if (copy.status !== 0) throw new Error(`psql \\copy failed: ${copy.stderr}`);
    const copyRate = lines.length / copySeconds;
    console.log(
      `ingest ${profile.padEnd(8)} ${bundles} bundles (${bundles * RESOURCES_PER_BUNDLE} resources): ` +
        `hub ${ours.toFixed(0)} resources/s (${seconds.toFixed(1)} s) | psql \\copy ${copyRate.toFixed(0)} rows/s (${copySeconds.toFixed(2)} s) | ratio hub/copy = ${(ours / copyRate).toFixed(3)}`,
    );
  } finally {
    await hub.kill('SIGTERM');
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

async function search(patients: number, samples: number): Promise<void> {
  loadDefinitions();
  const db = await scratchDatabase('keney_bench');
  const dataDir = await mkdtemp(join(tmpdir(), 'keney-bench-search-'));
  try {
    // Load through the store itself (log + projector), without HTTP, to reach the size quickly.
    const sql = new PostgresClient(db.url, { max: 8 });
    await migrate(sql, storeMigrations);
    const log = new SqlChangeLog(sql);
    const projector = new Projector(sql, log, { batchSize: 200 });
    const store = new CanonicalStore(sql, log, projector);
    const loadStarted = performance.now();
    for (let n = 0; n < patients; n += 1000) {
      const batch = Array.from({ length: Math.min(1000, patients - n) }, (_, i) => bundleFor(n + i));
      await Promise.all(
        batch.map(async (bundle, i) =>
          store.append(
            await store.changeSet({ bundle, origin: { kind: 'system', reason: 'bench' }, partitionKey: `p${n + i}` }),
          ),
        ),
      );
      await projector.catchUp();
      process.stdout.write(`\rloaded ${n + batch.length}/${patients} patients`);
    }
    const total = (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM resources')).rows[0]!.n;
    console.log(
      `\nsearch dataset: ${total} resources (plus Provenance), loaded in ${((performance.now() - loadStarted) / 1000).toFixed(0)} s`,
    );
    await sql.query('VACUUM ANALYZE');
    store.close();
    await log.close();
    await sql.close();

    const token = `kny_bench_${randomBytes(12).toString('hex')}`;
    const hub = await startHubProcess({
      KENEY_DATA_DIR: dataDir,
      KENEY_DATABASE_URL: db.url,
      KENEY_ADMIN_TOKEN: token,
    });
    const headers = { authorization: `Bearer ${token}` };
    const random = rng(42);
    const pick = () => Math.floor(random() * patients);
    const patientIds = new Map<number, string>();
    const idOf = async (n: number) => {
      if (!patientIds.has(n)) {
        const bundle = (await (
          await fetch(`${hub.url}/fhir/Patient?identifier=${IPP}|IPP-${n}`, { headers })
        ).json()) as Bundle;
        patientIds.set(n, bundle.entry![0]!.resource!.id!);
      }
      return patientIds.get(n)!;
    };
    const ns = Array.from({ length: samples }, pick);
    for (const n of ns) await idOf(n);
    const kinds: Record<string, { url: (n: number) => string; sql: string; keys: (n: number) => string }> = {
      token: {
        url: (n) => `Patient?identifier=${IPP}|IPP-${n}`,
        keys: (n) => `IPP-${n}`,
        sql: `SELECT r.content FROM resources r JOIN sp_token t ON t.resource_type = r.resource_type AND t.id = r.id
              WHERE t.resource_type = 'Patient' AND t.param = 'identifier' AND t.system = :s::text AND t.code = :k::text AND NOT r.deleted LIMIT 21;`,
      },
      string: {
        url: (n) => `Patient?name=${SURNAMES[n % SURNAMES.length]!.toLowerCase()}${String(n).slice(0, 3)}`,
        keys: (n) => `${SURNAMES[n % SURNAMES.length]!.toLowerCase()}${String(n).slice(0, 3)}%`,
        sql: `SELECT r.content FROM resources r WHERE r.resource_type = 'Patient' AND NOT r.deleted AND r.id IN (
                SELECT s.id FROM sp_string s WHERE s.resource_type = 'Patient' AND s.param = 'name' AND s.value LIKE :k::text) ORDER BY r.id LIMIT 21;`,
      },
      reference: {
        url: (n) => `Observation?subject=Patient/${patientIds.get(n)}`,
        keys: (n) => patientIds.get(n)!,
        sql: `SELECT r.content FROM resources r JOIN sp_reference x ON x.resource_type = r.resource_type AND x.id = r.id
              WHERE x.resource_type = 'Observation' AND x.param = 'subject' AND x.target_type = 'Patient' AND x.target_id = :k::text AND NOT r.deleted LIMIT 21;`,
      },
    };
    for (const [kind, spec] of Object.entries(kinds)) {
      // Hub: one client, sequential, after a warm-up.
      for (const n of ns.slice(0, 20)) await (await fetch(`${hub.url}/fhir/${spec.url(n)}`, { headers })).arrayBuffer();
      const ours: number[] = [];
      for (const n of ns) {
        const t0 = performance.now();
        const response = await fetch(`${hub.url}/fhir/${spec.url(n)}`, { headers });
        await response.arrayBuffer();
        ours.push(performance.now() - t0);
        if (response.status !== 200) throw new Error(`${kind}: ${response.status}`);
      }
      ours.sort((a, b) => a - b);
      // pgbench: the same queries with the same keys, one client, per-transaction latency log.
      const work = await mkdtemp(join(tmpdir(), 'keney-pgbench-'));
      const keyFile = join(work, 'keys.sql');
      await writeFile(keyFile, `\\set i random(0, ${ns.length - 1})\n`);
      const keyTable = `bench_keys_${kind}`;
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      // The identifier system travels as a variable: pgbench would read ":oid" inside a 'urn:oid:…' literal as one.
      await admin.query(`CREATE TABLE ${keyTable} (i int PRIMARY KEY, k text NOT NULL, s text NOT NULL)`);
      await admin.query(`INSERT INTO ${keyTable} SELECT i, k, $3 FROM unnest($1::int[], $2::text[]) AS u(i, k)`, [
        ns.map((_, i) => i),
        ns.map((n) => spec.keys(n)),
        IPP,
      ]);
      await admin.end();
      const script = join(work, 'query.sql');
      await writeFile(
        script,
        `\\set i random(0, ${ns.length - 1})\nSELECT k AS k, s AS s FROM ${keyTable} WHERE i = :i \\gset\n${spec.sql}\n`,
      );
      const bench = spawnSync(
        'pgbench',
        [
          '-n',
          '-c',
          '1',
          '-t',
          String(ns.length),
          '-f',
          script,
          '-l',
          '--log-prefix',
          join(work, 'log'),
          '-M',
          'extended',
          db.url,
        ],
        { encoding: 'utf8', cwd: work },
      );
      if (bench.status !== 0) throw new Error(`pgbench failed: ${bench.stderr}`);
      const logs = spawnSync('sh', ['-c', `cat ${join(work, 'log')}*`], { encoding: 'utf8' }).stdout;
      const theirs = logs
        .trim()
        .split('\n')
        .map((line) => Number(line.split(' ')[2]) / 1000)
        .sort((a, b) => a - b);
      await rm(work, { recursive: true, force: true });
      const [o50, o95, t50, t95] = [
        percentile(ours, 50),
        percentile(ours, 95),
        percentile(theirs, 50),
        percentile(theirs, 95),
      ];
      console.log(
        `search ${kind.padEnd(9)} n=${ours.length}: hub p50 ${o50.toFixed(2)} ms p95 ${o95.toFixed(2)} ms | pgbench p50 ${t50.toFixed(2)} ms p95 ${t95.toFixed(2)} ms | p95 ratio hub/sql = ${(o95 / t95).toFixed(2)}`,
      );
    }
    await hub.kill('SIGTERM');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await db.drop();
  }
}

const profiles = args.profiles!.split(',').map((p) => p.trim());
console.log(`bench/store — ${new Date().toISOString()}, node ${process.version}`);
if (!args['skip-ingest']) for (const profile of profiles) await ingest(profile, Number(args['ingest-bundles']));
if (!args['skip-search']) await search(Number(args['search-patients']), Number(args.samples));
