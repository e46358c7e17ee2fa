// End-to-end MLLP benchmark (acceptance 5): the real hub (`keney serve`, shipped default channel, shipped
// mappings and quality rules) receiving lab results (ORU^R01), measured side by side with the raw MLLP echo
// server of bench/mllp-echo on the same machine, at 1 and 16 connections, on the embedded profile (PGlite + SQL
// log) and on PostgreSQL + Kafka. An AA counts only when the message's change set is durable (the hub's rule).
// Rounds alternate echo and hub; medians are reported, and every hub figure as a ratio to the echo's.
//
//   npx tsx bench/mllp/run.ts [--profiles embedded,cluster] [--rounds 3] [--messages1 1000] [--messages16 4000]
//                             [--warmup 50] [--json results.json]
//
// Cluster needs PostgreSQL (KENEY_BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres, used to
// create a scratch database) and Kafka (KENEY_BENCH_KAFKA_BROKERS, default 127.0.0.1:9092).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scratchDatabase } from '../common/scratch-database.js';
import { startEchoServer, argument } from '../mllp-echo/echo-server.js';
import { formatResult, runLoad, type LoadResult } from '../mllp-echo/load.js';
import { freePort, startHubProcess, type HubProcess } from '../../test/hub-process.js';

const ORU = readFileSync(new URL('../../fixtures/channels/oru-r01-glucose.hl7', import.meta.url), 'latin1');
const RUN = randomBytes(3).toString('hex');

/** A distinct lab result per message: its own control id, patient (one per connection), order numbers. */
function labResult(index: number, connection: number): string {
  const id = `B${RUN}-${connection}-${index < 0 ? `w${-index}` : index}`;
  return ORU.replace('LAB-0001', id)
    .replace('IPP-1001', `IPP-B${RUN}-${connection}`)
    .replace('PL-0001', `PL-${id}`)
    .replace('FL-0001', `FL-${id}`);
}

const isAa = (reply: Buffer) => /\rMSA\|AA\|/.test(reply.toString('latin1'));

interface ProfileSetup {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

async function setup(profile: string, dataDir: string): Promise<ProfileSetup> {
  if (profile === 'embedded') return { env: {}, cleanup: async () => undefined };
  const db = await scratchDatabase(`keney_bench_${profile}`);
  void dataDir;
  return {
    env: {
      KENEY_DATABASE_URL: db.url,
      ...(profile === 'cluster'
        ? {
            KENEY_KAFKA_BROKERS: process.env.KENEY_BENCH_KAFKA_BROKERS ?? '127.0.0.1:9092',
            KENEY_KAFKA_TOPIC: `keney.bench.${RUN}`,
            KENEY_LOG_PARTITIONS: '12',
          }
        : {}),
    },
    cleanup: () => db.drop(),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const args = process.argv.slice(2);
const profiles = (argument(args, 'profiles') ?? 'embedded,cluster').split(',');
const rounds = Number(argument(args, 'rounds') ?? 3);
const warmup = Number(argument(args, 'warmup') ?? 50);
const plans = [
  { connections: 1, messages: Number(argument(args, 'messages1') ?? 1000) },
  { connections: 16, messages: Number(argument(args, 'messages16') ?? 4000) },
];
const jsonOut = argument(args, 'json');

const report: Record<string, { echo: LoadResult[]; hub: LoadResult[]; appliedSeconds: number[] }> = {};

for (const profile of profiles) {
  const dataDir = await mkdtemp(join(tmpdir(), `keney-bench-${profile}-`));
  const profileSetup = await setup(profile, dataDir);
  const token = `kny_bench_${randomBytes(16).toString('hex')}`;
  const mllpPort = await freePort();
  let hub: HubProcess | undefined;
  try {
    hub = await startHubProcess(
      {
        KENEY_DATA_DIR: dataDir,
        KENEY_ADMIN_TOKEN: token,
        KENEY_MLLP_PORT: String(mllpPort),
        KENEY_MLLP_HOST: '127.0.0.1',
        KENEY_LOG_LEVEL: 'error',
        ...profileSetup.env,
      },
      300_000,
    );
    const echo = await startEchoServer({ host: '127.0.0.1', port: 0 });
    try {
      for (let round = 1; round <= rounds; round++) {
        for (const plan of plans) {
          const key = `${profile}/${plan.connections}`;
          report[key] ??= { echo: [], hub: [], appliedSeconds: [] };
          const echoResult = await runLoad({
            port: echo.port,
            connections: plan.connections,
            messages: plan.messages,
            warmupPerConnection: warmup,
            message: labResult,
          });
          console.log(formatResult(`round ${round} ${profile.padEnd(8)} echo`, echoResult));
          report[key].echo.push(echoResult);
          const hubResult = await runLoad({
            port: mllpPort,
            connections: plan.connections,
            messages: plan.messages,
            warmupPerConnection: warmup,
            message: labResult,
            acceptReply: isAa,
          });
          console.log(formatResult(`round ${round} ${profile.padEnd(8)} hub `, hubResult));
          report[key].hub.push(hubResult);
          // How long until the projection has applied everything acknowledged (the record is queryable).
          const started = Date.now();
          for (;;) {
            const status = (await (
              await fetch(`${hub.url}/admin/store/status`, { headers: { authorization: `Bearer ${token}` } })
            ).json()) as { partitions: { lag: number }[] };
            if (status.partitions.every((p) => p.lag === 0)) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          report[key].appliedSeconds.push((Date.now() - started) / 1000);
        }
      }
    } finally {
      await echo.close();
    }
  } catch (error) {
    console.error(`${profile}: ${(error as Error).message}`);
    if (hub) console.error(hub.output().slice(-4000));
  } finally {
    await hub?.kill('SIGTERM');
    await profileSetup.cleanup().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
}

console.log(
  '\n| profile | connections | echo msg/s | hub msg/s | ratio | echo ACK p50 / p99 ms | hub ACK p50 / p99 ms | hub errors | projection caught up after |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [key, r] of Object.entries(report)) {
  if (r.hub.length === 0) continue;
  const [profile, connections] = key.split('/');
  const m = (list: LoadResult[], k: 'messagesPerSecond' | 'ackP50Ms' | 'ackP99Ms') => median(list.map((x) => x[k]));
  console.log(
    `| ${profile} | ${connections} | ${Math.round(m(r.echo, 'messagesPerSecond'))} | ${Math.round(m(r.hub, 'messagesPerSecond'))} | ` +
      `${(m(r.hub, 'messagesPerSecond') / m(r.echo, 'messagesPerSecond')).toFixed(3)} | ` +
      `${m(r.echo, 'ackP50Ms').toFixed(2)} / ${m(r.echo, 'ackP99Ms').toFixed(2)} | ${m(r.hub, 'ackP50Ms').toFixed(2)} / ${m(r.hub, 'ackP99Ms').toFixed(2)} | ` +
      `${r.hub.reduce((n, x) => n + x.errors, 0)} | ${median(r.appliedSeconds).toFixed(1)} s |`,
  );
}
if (jsonOut) await writeFile(jsonOut, JSON.stringify({ run: RUN, rounds, plans, report }, null, 2));
process.exit(0);
