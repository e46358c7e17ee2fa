// Our MllpServer answering every frame at once with the same fixed ACK as the echo server: comparing the two
// measures what the listener itself (framing, per-connection ordering, backpressure, events) costs.
//
//   npx tsx bench/mllp-echo/mllp-listener.ts [--host 127.0.0.1] [--port 2575]
import { pathToFileURL } from 'node:url';
import { MllpServer } from '../../mllp/server.js';
import { argument, FIXED_ACK } from './echo-server.js';

export async function startMllpListener(options: { host?: string; port?: number } = {}): Promise<MllpServer> {
  const reply = { payload: Buffer.from(FIXED_ACK) };
  const server = new MllpServer({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, handler: () => reply });
  await server.listen();
  return server;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const server = await startMllpListener({
    host: argument(args, 'host') ?? '127.0.0.1',
    port: Number(argument(args, 'port') ?? 2575),
  });
  console.log(JSON.stringify({ port: server.address?.port }));
  const stop = () => void server.close({ timeoutMs: 1_000 }).then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
