// Which real servers the integration tests (`*.int.test.ts`) can reach, and the policy when one is missing.
//
// A developer on a fresh machine runs `npm test`: tests whose server is absent are skipped, and say so.
// `.ci/run` sets KENEY_TEST_REQUIRE=all (or a comma list): then a missing server fails the whole run.
import { access, constants } from 'node:fs/promises';
import { connect } from 'node:net';
import { inject } from 'vitest';

export const SERVICE_NAMES = ['postgres', 'kafka', 's3', 'chromium', 'dcmtk', 'orthanc', 'mail'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
export type ServiceMap = Record<ServiceName, boolean>;

/** Connection settings the tests use; each can be overridden by the environment. */
export const testServiceConfig = {
  postgresUrl: process.env.KENEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  kafkaBrokers: process.env.KENEY_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092',
  /** S3-compatible server (scripts/s3proxy/start.sh) and its test credentials. */
  s3Endpoint: process.env.KENEY_TEST_S3_ENDPOINT ?? 'http://127.0.0.1:9000',
  s3AccessKeyId: process.env.KENEY_TEST_S3_ACCESS_KEY_ID ?? 'keney',
  s3SecretAccessKey: process.env.KENEY_TEST_S3_SECRET_ACCESS_KEY ?? 'keney-secret-key',
  chromiumPath: process.env.KENEY_TEST_CHROMIUM ?? '/usr/bin/chromium',
  orthancHttp: process.env.KENEY_TEST_ORTHANC_HTTP ?? 'http://127.0.0.1:8042',
};

function tcpReachable(hostPort: string, timeoutMs = 1500): Promise<boolean> {
  const [host, portText] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(portText) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Probes every service once (global setup). */
export async function probeServices(): Promise<ServiceMap> {
  const postgresHostPort = new URL(testServiceConfig.postgresUrl).host || '127.0.0.1:5432';
  const [postgres, kafka, s3, chromium, dcmtk, orthanc, mail] = await Promise.all([
    tcpReachable(postgresHostPort.includes(':') ? postgresHostPort : `${postgresHostPort}:5432`),
    tcpReachable(testServiceConfig.kafkaBrokers.split(',')[0]!),
    tcpReachable(new URL(testServiceConfig.s3Endpoint).host),
    executable(testServiceConfig.chromiumPath),
    executable('/usr/bin/storescu'),
    executable('/usr/sbin/Orthanc'),
    Promise.all([executable('/usr/sbin/postfix'), executable('/usr/sbin/dovecot')]).then((x) => x.every(Boolean)),
  ]);
  return { postgres, kafka, s3, chromium, dcmtk, orthanc, mail };
}

/** The services the run requires (KENEY_TEST_REQUIRE=all | comma list). */
export function requiredServices(): ServiceName[] {
  const raw = (process.env.KENEY_TEST_REQUIRE ?? '').trim();
  if (!raw) return [];
  if (raw === 'all') return [...SERVICE_NAMES];
  return raw.split(',').map((s) => s.trim()) as ServiceName[];
}

/** In a test file: is this service available? (Probed once by the global setup.) */
export function hasService(name: ServiceName): boolean {
  const services = inject('keneyServices') as ServiceMap | undefined;
  return services?.[name] ?? false;
}

declare module 'vitest' {
  export interface ProvidedContext {
    keneyServices: ServiceMap;
  }
}
