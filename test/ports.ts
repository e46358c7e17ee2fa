// Ports for servers a test starts later than it chooses them (a peer that comes back, a hub process, a destination
// configured before its receiver exists). A port from listen(0) is in the kernel's ephemeral range (32768–60999 on
// Linux), where any outgoing connection of a parallel test may take it in the meantime (EADDRINUSE, a flaky test).
// So: a random port below that range, checked free by binding it; parallel test files rarely draw the same one.
import net from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port nothing listens on, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await canListen(port)) return port;
  }
  throw new Error(`No free port between ${LOW} and ${HIGH} after 100 tries.`);
}
