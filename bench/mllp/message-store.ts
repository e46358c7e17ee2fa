// Message store at scale: fills N messages (default 1,000,000) spread over 30 days, 5 channels, 100,000 patients,
// realistic statuses and types, then times every search of the message browser (first page and a deep page by
// cursor), the lookup of one message, and the pruning of a day (with the space it frees).
//
//   npx tsx bench/mllp/message-store.ts [--db postgres|pglite] [--messages 1000000] [--repeat 5]
//
// PostgreSQL: a scratch database on KENEY_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
// The fill is done in SQL (generate_series) in chunks, through the real schema (engine-0001) and its indexes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scratchDatabase } from '../common/scratch-database.js';
import { argument } from '../mllp-echo/echo-server.js';
import { FsBlobStore } from '../../store/blob/fs-blob-store.js';
import { migrate } from '../../store/sql/migrate.js';
import { PgliteClient } from '../../store/sql/pglite-client.js';
import { PostgresClient } from '../../store/sql/postgres-client.js';
import type { SqlClient } from '../../store/sql/sql-client.js';
import { engineMigrations, MessageStore, type MessageQuery } from '../../engine/message-store.js';

const args = process.argv.slice(2);
const db = argument(args, 'db') ?? 'postgres';
const total = Number(argument(args, 'messages') ?? 1_000_000);
const repeat = Number(argument(args, 'repeat') ?? 5);
const DAYS = 30;
const CHUNK = 50_000;

const work = await mkdtemp(join(tmpdir(), 'keney-bench-store-'));
let sql: SqlClient;
let dropDatabase = async () => undefined as unknown;
if (db === 'pglite') {
  sql = await PgliteClient.open(join(work, 'pglite'));
} else {
  const db = await scratchDatabase('keney_bench_store');
  sql = new PostgresClient(db.url, { max: 4 });
  dropDatabase = async () => {
    await sql.close();
    await db.drop();
  };
}

try {
  await migrate(sql, engineMigrations);
  const store = new MessageStore(sql, new FsBlobStore(join(work, 'blobs')));
  const end = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
  const start = new Date(end.getTime() - DAYS * 86_400_000);
  await store.ensurePartitions(start, new Date(end.getTime() + 86_400_000));

  // ---- fill ----
  const filled = Date.now();
  for (let from = 0; from < total; from += CHUNK) {
    const to = Math.min(total, from + CHUNK);
    // Deterministic synthetic rows: time spread evenly (so ids are UUIDv7-shaped from their time), 5 channels,
    // ~2 % errors, ~3 % filtered, ~1 % queued, types ADT/ORU/ORM/MDM/SIU, 100,000 patients, a 600-byte raw message.
    await sql.query(
      `INSERT INTO engine_messages (id, received_at, channel, status, source, sender, message_type, control_id, patient_ids, search_text,
                                    raw_sha256, raw_size, raw, ack_code, error_stage, errors, updated_at)
       SELECT (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7' || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15))::uuid,
              t, 'channel-' || (i % 5), st, 'mllp 10.0.0.' || (i % 50) || ':5000', 'LAB^CH-' || (i % 7),
              (ARRAY['ADT^A01','ORU^R01','ORM^O01','MDM^T02','SIU^S12'])[1 + i % 5], 'MSG' || i,
              ARRAY['IPP' || (i % 100000), 'CH-TEST|IPP' || (i % 100000)],
              lower('msg' || i || ' lab^ch-' || (i % 7) || ' ipp' || (i % 100000) || ' ' || (ARRAY['dupont','martin','bernard','thomas','petit','robert','richard','durand','dubois','moreau'])[1 + (i / 7) % 10] || '-' || (i % 997) || ' jean 1970' || lpad((i % 12 + 1)::text, 2, '0') || '01'),
              md5(i::text) || md5((i + 1)::text), 600,
              convert_to('MSH|^~\\&|LAB|CH-' || (i % 7) || '|KENEY|HUB|20260124||ORU^R01|MSG' || i || '|P|2.5' || chr(13) || 'PID|||IPP' || (i % 100000) || '^^^CH-TEST^PI||PATIENT^' || i || chr(13) || repeat('OBX|1|NM|GLU^Glucose||5.2|mmol/L|||||F' || chr(13), 12), 'UTF8'),
              CASE WHEN st = 'error' THEN 'AE' ELSE 'AA' END, CASE WHEN st = 'error' THEN 'map' END,
              CASE WHEN st = 'error' THEN '[{"stage":"map","severity":"error","code":"REQUIRED_MISSING","message":"PID-3 is empty"}]' END, t
         FROM (SELECT i, $3::timestamptz + (i::double precision / $4) * ($5 * interval '1 day') AS t,
                      CASE WHEN i % 50 = 7 THEN 'error' WHEN i % 33 = 5 THEN 'filtered' WHEN i % 100 = 3 THEN 'queued' ELSE 'sent' END AS st
                 FROM generate_series($1::int, $2::int - 1) AS i) g`,
      [from, to, start.toISOString(), total, DAYS],
    );
    process.stdout.write(
      `\rfilled ${to.toLocaleString('en')} / ${total.toLocaleString('en')} messages (${((Date.now() - filled) / 1000).toFixed(0)} s)`,
    );
  }
  process.stdout.write('\n');
  if (db === 'postgres') await sql.exec('ANALYZE engine_messages');
  const fillSeconds = (Date.now() - filled) / 1000;

  // ---- searches ----
  const mid = new Date(start.getTime() + 15 * 86_400_000);
  // A message of channel-3 received in the middle day (i % 5 = 3), to look for by content.
  let needle = Math.floor(total / 2) + 5;
  while (needle % 5 !== 3) needle++;
  const searches: [string, MessageQuery][] = [
    ['newest 50 (no filter)', {}],
    ['channel', { channel: 'channel-3' }],
    ['status error (all channels)', { status: ['error'] }],
    ['channel + status error', { channel: 'channel-2', status: ['error'] }],
    ['time range (1 hour)', { from: mid, to: new Date(mid.getTime() + 3_600_000) }],
    ['type ORU (prefix)', { messageType: 'ORU' }],
    [
      'type + channel + 1 day',
      { messageType: 'ADT^A01', channel: 'channel-0', from: mid, to: new Date(mid.getTime() + 86_400_000) },
    ],
    ['control id (MSH-10)', { controlId: `MSG${Math.floor(total / 3)}` }],
    ['patient identifier', { patient: 'CH-TEST|IPP4242' }],
    ['free text: name', { text: 'durand-421' }],
    ['free text: two words', { text: 'moreau-17 jean' }],
    [
      'content (raw bytes), 1 channel, 1 day',
      { content: `PATIENT^${needle}\r`, channel: 'channel-3', from: mid, to: new Date(mid.getTime() + 86_400_000) },
    ],
  ];
  const results: { name: string; rows: number; firstMs: number; deepMs: number }[] = [];
  const time = async (fn: () => Promise<unknown>) => {
    const samples: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const t = performance.now();
      await fn();
      samples.push(performance.now() - t);
    }
    return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
  };
  for (const [name, query] of searches) {
    const first = await store.search({ ...query, limit: 50 });
    const firstMs = await time(() => store.search({ ...query, limit: 50 }));
    // A deep page: 20 pages further by cursor (keyset paging: as fast as the first page).
    let cursor = first.next;
    for (let page = 0; page < 19 && cursor; page++) cursor = (await store.search({ ...query, limit: 50, cursor })).next;
    const deepMs = cursor ? await time(() => store.search({ ...query, limit: 50, cursor })) : Number.NaN;
    results.push({ name, rows: first.messages.length, firstMs, deepMs });
  }
  const one = (await store.search({ controlId: `MSG${Math.floor(total / 2)}` })).messages[0]!;
  const getMs = await time(() => store.get(one.id));

  // ---- pruning ----
  const before = await store.partitions();
  const pruneStarted = performance.now();
  const pruned = await store.prune(new Date(start.getTime() + 86_400_000));
  const pruneMs = performance.now() - pruneStarted;

  console.log(
    `\n${db}: ${total.toLocaleString('en')} messages over ${DAYS} days, filled in ${fillSeconds.toFixed(0)} s; median of ${repeat} runs, 50 per page\n`,
  );
  console.log('| search | rows | first page ms | page 21 (cursor) ms |');
  console.log('| --- | --- | --- | --- |');
  for (const r of results)
    console.log(
      `| ${r.name} | ${r.rows} | ${r.firstMs.toFixed(1)} | ${Number.isNaN(r.deepMs) ? '—' : r.deepMs.toFixed(1)} |`,
    );
  console.log(`| one message (get by id, with deliveries) | 1 | ${getMs.toFixed(1)} | |`);
  const totalBytes = before.reduce((n, d) => n + d.bytes, 0);
  console.log(
    `\nPrune of the oldest day: ${pruned.messages.toLocaleString('en')} messages, ${(pruned.bytes / 1e6).toFixed(1)} MB freed ` +
      `(of ${(totalBytes / 1e9).toFixed(2)} GB for all days) in ${pruneMs.toFixed(0)} ms.`,
  );
} finally {
  await dropDatabase();
  if (db === 'pglite') await sql.close();
  await rm(work, { recursive: true, force: true });
}
