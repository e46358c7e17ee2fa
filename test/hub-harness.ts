// A whole hub for tests on one of three profiles, with an admin token, driven through `app.inject()`:
// - embedded: a cloned PGlite database and the SQL log;
// - server:   a fresh PostgreSQL database and the SQL log;
// - cluster:  a fresh PostgreSQL database and a Kafka topic of its own (the real broker).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadConfig } from '../hub/config.js';
import { createHub, type CreateHubOptions, type Hub } from '../hub/hub.js';
import { createLogger } from '../hub/logger.js';
import type { HubModule } from '../hub/module.js';
import { openTestPglite, openTestPostgres } from './databases.js';
import { hasService, testServiceConfig } from './services.js';

export type HubProfile = 'embedded' | 'server' | 'cluster';

export const HUB_PROFILES: { profile: HubProfile; available: () => boolean }[] = [
  { profile: 'embedded', available: () => true },
  { profile: 'server', available: () => hasService('postgres') },
  { profile: 'cluster', available: () => hasService('postgres') && hasService('kafka') },
];

export interface TestHub {
  hub: Hub;
  token: string;
  profile: HubProfile;
  /** Authorization header for the admin token. */
  auth: { authorization: string };
  close(): Promise<void>;
}

export async function openTestHub(
  profile: HubProfile,
  options: { modules?: HubModule[]; logger?: Logger; env?: Record<string, string>; start?: boolean } = {},
): Promise<TestHub> {
  const dataDir = await mkdtemp(join(tmpdir(), 'keney-hub-'));
  const token = `kny_test_${randomBytes(16).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    KENEY_DATA_DIR: dataDir,
    KENEY_HTTP_PORT: '0',
    KENEY_HTTP_HOST: '127.0.0.1',
    KENEY_ADMIN_TOKEN: token,
    KENEY_APPLY_TIMEOUT_MS: '20000',
    ...options.env,
  };
  let dispose: () => Promise<void>;
  let sqlOption: CreateHubOptions['sql'];
  if (profile === 'embedded') {
    const sql = await openTestPglite();
    sqlOption = sql;
    dispose = () => sql.close();
  } else {
    const db = await openTestPostgres();
    env.KENEY_DATABASE_URL = db.url;
    sqlOption = db.client;
    dispose = db.drop;
    if (profile === 'cluster') {
      env.KENEY_KAFKA_BROKERS = testServiceConfig.kafkaBrokers;
      env.KENEY_KAFKA_TOPIC = `keney.test.hub.${randomBytes(6).toString('hex')}`;
      env.KENEY_LOG_PARTITIONS = '4';
      // The cluster keeps its blobs in an S3-compatible store when one runs (scripts/s3proxy/start.sh).
      if (hasService('s3')) {
        Object.assign(env, {
          KENEY_S3_ENDPOINT: testServiceConfig.s3Endpoint,
          KENEY_S3_BUCKET: `keney-test-${randomBytes(4).toString('hex')}`,
          KENEY_S3_ACCESS_KEY_ID: testServiceConfig.s3AccessKeyId,
          KENEY_S3_SECRET_ACCESS_KEY: testServiceConfig.s3SecretAccessKey,
        });
      }
    }
  }
  const config = loadConfig(env);
  const hub = await createHub(config, {
    sql: sqlOption,
    modules: options.modules ?? [],
    logger: options.logger ?? createLogger('warn'),
  });
  if (options.start !== false) await hub.start();
  return {
    hub,
    token,
    profile,
    auth: { authorization: `Bearer ${token}` },
    async close() {
      await hub.stop();
      await dispose();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
