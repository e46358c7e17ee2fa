// Side-by-side run: the raw echo server and our MllpServer (fixed ACK), each in its own process, loaded by
// load.ts at 1 and 16 connections, alternating rounds; prints medians and the ratio ours / echo.
//
//   npx tsx bench/mllp-echo/run.ts [--rounds 3] [--messages1 5000] [--messages16 20000]
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { argument } from './echo-server.js';
import { formatResult, runLoad, type LoadResult } from './load.js';

const TARGETS = {
  echo: fileURLToPath(new URL('./echo-server.ts', import.meta.url)),
  mllp: fileURLToPath(new URL('./mllp-listener.ts', import.meta.url)),
} as const;
type Target = keyof typeof TARGETS;

async function startTarget(target: Target): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', TARGETS[target], '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`${target} exited with ${code} before listening`)));
  });
  return { child, port };
}

async function stopTarget(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const args = process.argv.slice(2);
const rounds = Number(argument(args, 'rounds') ?? 3);
const plans = [
  { connections: 1, messages: Number(argument(args, 'messages1') ?? 5_000) },
  { connections: 16, messages: Number(argument(args, 'messages16') ?? 20_000) },
];

const results: Record<string, LoadResult[]> = {};
for (let round = 1; round <= rounds; round += 1) {
  for (const target of ['echo', 'mllp'] as const) {
    const { child, port } = await startTarget(target);
    try {
      for (const plan of plans) {
        const result = await runLoad({ port, connections: plan.connections, messages: plan.messages });
        console.log(formatResult(`round ${round} ${target.padEnd(4)}`, result));
        (results[`${target}/${plan.connections}`] ??= []).push(result);
      }
    } finally {
      await stopTarget(child);
    }
  }
}

console.log(
  '\n| connections | echo msg/s | MllpServer msg/s | ratio | echo p50 / p99 ms | MllpServer p50 / p99 ms | ratio p50 / p99 |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const plan of plans) {
  const echo = results[`echo/${plan.connections}`]!;
  const ours = results[`mllp/${plan.connections}`]!;
  const m = (list: LoadResult[], key: 'messagesPerSecond' | 'ackP50Ms' | 'ackP99Ms') => median(list.map((r) => r[key]));
  console.log(
    `| ${plan.connections} | ${Math.round(m(echo, 'messagesPerSecond'))} | ${Math.round(m(ours, 'messagesPerSecond'))} | ` +
      `${(m(ours, 'messagesPerSecond') / m(echo, 'messagesPerSecond')).toFixed(2)} | ` +
      `${m(echo, 'ackP50Ms').toFixed(3)} / ${m(echo, 'ackP99Ms').toFixed(3)} | ` +
      `${m(ours, 'ackP50Ms').toFixed(3)} / ${m(ours, 'ackP99Ms').toFixed(3)} | ` +
      `${(m(ours, 'ackP50Ms') / m(echo, 'ackP50Ms')).toFixed(2)} / ${(m(ours, 'ackP99Ms') / m(echo, 'ackP99Ms')).toFixed(2)} |`,
  );
}
