// MLLP load generator: N connections send M messages in total, each connection waiting for the ACK of one
// message before sending the next (as HL7 senders do). Reports messages/s and ACK latency percentiles.
// Reusable: `runLoad()` is what the end-to-end benchmark calls against the hub and against the echo server.
//
//   npx tsx bench/mllp-echo/load.ts --port 2575 [--host 127.0.0.1] [--connections 16] [--messages 20000]
//                                   [--warmup 1000] [--json]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type tls from 'node:tls';
import { MllpClient } from '../../mllp/client.js';
import { argument } from './echo-server.js';

const TEMPLATE = readFileSync(new URL('../../mllp/fixtures/oru-r01-lab.hl7', import.meta.url), 'utf8')
  .trim()
  .replace(/\n/g, '\r');

/** The fixture ORU^R01 (9 segments, ~580 bytes) with a unique control id (MSH-10). */
export function oruMessage(controlId: string): string {
  return TEMPLATE.replace('|MSG00003|', `|${controlId}|`);
}

export interface LoadOptions {
  host?: string;
  port: number;
  /** Concurrent connections (default 1). */
  connections?: number;
  /** Messages in total, spread evenly over the connections (default 10,000). */
  messages?: number;
  /** Messages sent (per connection) before measuring, to warm up both ends (default 200). */
  warmupPerConnection?: number;
  /** The payload of message `index` on connection `connection` (default: the fixture ORU, unique MSH-10). */
  message?: (index: number, connection: number) => string | Buffer;
  /** Checks each reply; return false to count it as an error (default: accept any reply). */
  acceptReply?: (reply: Buffer) => boolean;
  tls?: tls.ConnectionOptions;
  ackTimeoutMs?: number;
}

export interface LoadResult {
  connections: number;
  messages: number;
  errors: number;
  seconds: number;
  messagesPerSecond: number;
  ackP50Ms: number;
  ackP99Ms: number;
  ackMaxMs: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const connections = options.connections ?? 1;
  const total = options.messages ?? 10_000;
  const perConnection = Math.ceil(total / connections);
  const warmup = options.warmupPerConnection ?? 200;
  const message = options.message ?? ((index, connection) => oruMessage(`L${connection}-${index}`));
  const acceptReply = options.acceptReply ?? (() => true);
  const clients = Array.from(
    { length: connections },
    () =>
      new MllpClient({
        host: options.host ?? '127.0.0.1',
        port: options.port,
        ackTimeoutMs: options.ackTimeoutMs ?? 30_000,
        ...(options.tls ? { tls: options.tls } : {}),
      }),
  );
  try {
    await Promise.all(clients.map((client) => client.connect()));
    await Promise.all(
      clients.map(async (client, connection) => {
        for (let index = 0; index < warmup; index += 1) await client.send(message(-1 - index, connection));
      }),
    );
    const latencies = new Float64Array(perConnection * connections);
    let recorded = 0;
    let errors = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      clients.map(async (client, connection) => {
        for (let index = 0; index < perConnection; index += 1) {
          const payload = message(index, connection);
          const sent = process.hrtime.bigint();
          try {
            const reply = await client.send(payload);
            if (!acceptReply(reply)) errors += 1;
          } catch {
            errors += 1;
          }
          latencies[recorded++] = Number(process.hrtime.bigint() - sent) / 1e6;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const sorted = latencies.subarray(0, recorded).sort();
    return {
      connections,
      messages: recorded,
      errors,
      seconds,
      messagesPerSecond: recorded / seconds,
      ackP50Ms: percentile(sorted, 50),
      ackP99Ms: percentile(sorted, 99),
      ackMaxMs: sorted[sorted.length - 1] ?? Number.NaN,
    };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

export function formatResult(label: string, result: LoadResult): string {
  return (
    `${label}: ${result.connections} connection(s), ${result.messages} messages in ${result.seconds.toFixed(2)} s = ` +
    `${Math.round(result.messagesPerSecond)} msg/s, ACK p50 ${result.ackP50Ms.toFixed(3)} ms, ` +
    `p99 ${result.ackP99Ms.toFixed(3)} ms, max ${result.ackMaxMs.toFixed(3)} ms, errors ${result.errors}`
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const port = Number(argument(args, 'port'));
  if (!Number.isInteger(port) || port <= 0) {
    console.error('Usage: load.ts --port N [--host H] [--connections 16] [--messages 20000] [--warmup 200] [--json]');
    process.exit(2);
  }
  const result = await runLoad({
    host: argument(args, 'host') ?? '127.0.0.1',
    port,
    connections: Number(argument(args, 'connections') ?? 1),
    messages: Number(argument(args, 'messages') ?? 10_000),
    warmupPerConnection: Number(argument(args, 'warmup') ?? 200),
  });
  console.log(
    args.includes('--json')
      ? JSON.stringify(result)
      : formatResult(`${argument(args, 'host') ?? '127.0.0.1'}:${port}`, result),
  );
}
