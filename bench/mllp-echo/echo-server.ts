// A raw MLLP echo server: the yardstick for MLLP benchmarks. It answers every frame at once with one fixed
// ACK and does nothing else: no parsing, no limits, no storage. Whatever a real listener costs on top of TCP
// and framing shows as its ratio to this server, measured side by side on the same machine.
//
//   npx tsx bench/mllp-echo/echo-server.ts [--host 127.0.0.1] [--port 2575]
// prints {"port": N} on stdout once listening; stops on SIGINT/SIGTERM.
import net from 'node:net';
import { pathToFileURL } from 'node:url';

const START = 0x0b;
const END = 0x1c;

/** A fixed, well-formed HL7 v2 application acknowledgment. */
export const FIXED_ACK =
  'MSH|^~\\&|ECHO|BENCH|LAB_APP|FACILITY_B|20260101000000||ACK^R01^ACK|ECHO0001|P|2.5.1\rMSA|AA|MSG00003\r';

export interface EchoServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startEchoServer(
  options: { host?: string; port?: number; ack?: string } = {},
): Promise<EchoServer> {
  const reply = Buffer.concat([Buffer.from([START]), Buffer.from(options.ack ?? FIXED_ACK), Buffer.from([END, 0x0d])]);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    // Only the end block matters to an echo: count them, answer each.
    socket.on('data', (chunk: Buffer) => {
      let at = chunk.indexOf(END);
      while (at !== -1) {
        socket.write(reply);
        at = chunk.indexOf(END, at + 1);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export function argument(args: string[], name: string): string | undefined {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? undefined : args[index + 1];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const server = await startEchoServer({
    host: argument(args, 'host') ?? '127.0.0.1',
    port: Number(argument(args, 'port') ?? 2575),
  });
  console.log(JSON.stringify({ port: server.port }));
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
