// Runs the real hub as a child process (`node bin/keney.js serve`), as a user or a supervisor would.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { openTestPostgres, prepareEmbeddedDataDir } from './databases.js';
import { freePort } from './ports.js';
import { hasService, testServiceConfig } from './services.js';

export const REPO_ROOT = join(import.meta.dirname, '..');

export { freePort };

/** How a test runs the hub process on one profile: what to prepare, which variables to pass, what to clean up. */
export interface HubProcessProfile {
  name: string;
  available: () => boolean;
  env: (dataDir: string) => Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>;
}

/**
 * The embedded profile (a prepared data directory) and the cluster profile (a new PostgreSQL database and a new
 * Kafka topic `<topicPrefix>.<random>`), for tests that kill and restart the hub process.
 */
export function hubProcessProfiles(topicPrefix: string): HubProcessProfile[] {
  return [
    {
      name: 'embedded',
      available: () => true,
      env: async (dataDir) => {
        await prepareEmbeddedDataDir(dataDir);
        return { env: {}, cleanup: async () => undefined };
      },
    },
    {
      name: 'cluster',
      available: () => hasService('postgres') && hasService('kafka'),
      env: async () => {
        const db = await openTestPostgres();
        await db.client.close();
        return {
          env: {
            KENEY_DATABASE_URL: db.url,
            KENEY_KAFKA_BROKERS: testServiceConfig.kafkaBrokers,
            KENEY_KAFKA_TOPIC: `${topicPrefix}.${randomBytes(6).toString('hex')}`,
            KENEY_LOG_PARTITIONS: '4',
          },
          cleanup: db.drop,
        };
      },
    },
  ];
}

export interface HubProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Sends a signal and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export async function startHubProcess(env: Record<string, string>, timeoutMs = 120_000): Promise<HubProcess> {
  const port = env.KENEY_HTTP_PORT ?? String(await freePort());
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/keney.js'), 'serve'], {
    cwd: REPO_ROOT,
    env: { ...process.env, KENEY_HTTP_HOST: '127.0.0.1', KENEY_LOG_LEVEL: 'warn', ...env, KENEY_HTTP_PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`The hub exited with ${child.exitCode} before it was ready:\n${output}`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The hub was not ready within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    child,
    url,
    output: () => output,
    async kill(signal) {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
