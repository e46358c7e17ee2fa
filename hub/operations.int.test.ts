// What an operator relies on: logs without patient data, Prometheus metrics, readiness, a graceful stop that
// finishes in-flight work, and configuration errors that say what to fix.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareEmbeddedDataDir } from '../test/databases.js';
import { openTestHub, type TestHub } from '../test/hub-harness.js';
import { startHubProcess } from '../test/hub-process.js';
import { hasService, testServiceConfig } from '../test/services.js';
import { S3BlobStore } from '../store/blob/s3-blob-store.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

describe('hub operations', () => {
  let t: TestHub;
  const logLines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    t = await openTestHub('embedded', { logger: createLogger('info', sink) });
  }, 180_000);
  afterAll(() => t?.close());

  it('logs requests without their query strings, bodies or tokens', async () => {
    const headers = { ...t.auth, 'content-type': 'application/fhir+json' };
    await t.hub.app.inject({
      method: 'POST',
      url: '/fhir/Patient',
      headers,
      payload: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Confidentiel' }], birthDate: '1961-04-12' }),
    });
    await t.hub.app.inject({
      method: 'GET',
      url: '/fhir/Patient?name=Confidentiel&birthdate=1961-04-12',
      headers: t.auth,
    });
    const logs = logLines.join('');
    expect(logs).toContain('"path":"/fhir/Patient"');
    expect(logs).not.toContain('Confidentiel');
    expect(logs).not.toContain('1961-04-12');
    expect(logs).not.toContain(t.token);
  });

  it('exposes Prometheus metrics: request durations, applied change sets, projection lag', async () => {
    const response = await t.hub.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.body).toMatch(
      /keney_http_request_duration_seconds_count\{method="POST",route="\/fhir\/:type",status="201"\} \d+/,
    );
    expect(response.body).toMatch(/keney_change_sets_applied_total\{status="applied"\} [1-9]/);
    expect(response.body).toMatch(/keney_projection_lag_records\{partition="0"\} 0/);
  });

  it('is ready when its database and projector are', async () => {
    const response = await t.hub.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ready', checks: { database: 'ok', projector: 'ok' } });
    expect((await t.hub.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });
});

describe('configuration errors name the variable and the fix', () => {
  it.each([
    [{ KENEY_HTTP_PORT: 'eighty' }, /KENEY_HTTP_PORT=eighty is not valid: expected an integer between 0 and 65535/],
    [{ KENEY_KAFKA_BROKERS: 'k:9092' }, /KENEY_KAFKA_BROKERS is set but KENEY_DATABASE_URL is not/],
    [{ KENEY_DATABASE_URL: 'mysql://x' }, /must be a postgres:\/\/ URL/],
    [{ KENEY_ADMIN_TOKEN: 'short' }, /KENEY_ADMIN_TOKEN is too short/],
    [{ KENEY_AUDIT_DURABILITY: 'maybe' }, /KENEY_AUDIT_DURABILITY must be sync or async/],
    [{ KENEY_S3_ENDPOINT: 'http://127.0.0.1:9000' }, /KENEY_S3_ENDPOINT is set but KENEY_S3_BUCKET is not/],
    [{ KENEY_S3_BUCKET: 'b', KENEY_S3_ENDPOINT: '127.0.0.1:9000' }, /KENEY_S3_ENDPOINT must start with http/],
  ])('%o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('picks the profile from what is set', () => {
    expect(loadConfig({}).profile).toBe('embedded');
    expect(loadConfig({ KENEY_DATABASE_URL: 'postgres://h/db' }).profile).toBe('server');
    expect(loadConfig({ KENEY_DATABASE_URL: 'postgres://h/db', KENEY_KAFKA_BROKERS: 'k:9092' })).toMatchObject({
      profile: 'cluster',
      logPartitions: 12,
    });
  });
});

describe.skipIf(!hasService('postgres') || !hasService('kafka') || !hasService('s3'))(
  'blobs in S3 (cluster profile)',
  () => {
    it('keeps blobs in the configured bucket, where another instance reads them', async () => {
      const t = await openTestHub('cluster');
      try {
        const s3 = t.hub.context.config.s3!;
        expect(s3.bucket).toMatch(/^keney-test-/);
        const { sha256 } = await t.hub.context.blobs.put(Buffer.from('shared by every hub of the cluster'));
        const other = new S3BlobStore(s3);
        try {
          expect((await other.get(sha256))?.toString()).toBe('shared by every hub of the cluster');
        } finally {
          other.close();
        }
      } finally {
        await t.close();
      }
    }, 180_000);

    it('an unreachable object store is reported with its bucket, endpoint and the variable to check', async () => {
      const env = {
        KENEY_DATABASE_URL: 'postgres://127.0.0.1:5432/test',
        KENEY_KAFKA_BROKERS: testServiceConfig.kafkaBrokers,
        KENEY_S3_BUCKET: 'keney-unreachable',
        KENEY_S3_ENDPOINT: 'http://127.0.0.1:9',
        KENEY_ADMIN_TOKEN: `kny_s3_${randomBytes(16).toString('hex')}`,
      };
      const store = new S3BlobStore(loadConfig(env).s3!);
      try {
        await expect(store.init()).rejects.toThrow(
          /bucket "keney-unreachable" at http:\/\/127.0.0.1:9.*KENEY_S3_ENDPOINT/,
        );
      } finally {
        store.close();
      }
    }, 60_000);
  },
);

describe('graceful stop', () => {
  it('finishes the writes in flight on SIGTERM and exits 0; the acknowledged ones are there after restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'keney-stop-'));
    try {
      await prepareEmbeddedDataDir(dataDir);
      const token = `kny_stop_${randomBytes(16).toString('hex')}`;
      const env = { KENEY_DATA_DIR: dataDir, KENEY_ADMIN_TOKEN: token };
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
      let hub = await startHubProcess(env);
      const writes = Array.from({ length: 20 }, (_, i) =>
        fetch(`${hub.url}/fhir/Patient`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'urn:stop', value: String(i) }] }),
        }).then(
          (r) => r.status,
          () => 'refused',
        ),
      );
      await new Promise((r) => setTimeout(r, 50));
      const exit = hub.kill('SIGTERM');
      const statuses = await Promise.all(writes);
      expect(await exit).toBe(0);
      // A write either completed (201) or was refused before it started (503 while closing, or no connection):
      // never cut off in the middle — the count after the restart checks that refused writes left nothing.
      expect(statuses.filter((s) => s !== 201 && s !== 503 && s !== 'refused')).toEqual([]);
      const created = statuses.filter((s) => s === 201).length;
      hub = await startHubProcess(env);
      const bundle = (await (
        await fetch(`${hub.url}/fhir/Patient?identifier=urn:stop|&_summary=count`, { headers })
      ).json()) as { total: number };
      expect(bundle.total).toBe(created);
      expect(await hub.kill('SIGTERM')).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});
