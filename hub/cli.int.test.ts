// The `keney` administration commands on a real data directory, as an operator runs them:
// rebuild gives the identical digest, verify finds a drifted index, audit verify finds tampering,
// and offline commands refuse to run beside a running hub.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteClient } from '../store/sql/pglite-client.js';
import { prepareEmbeddedDataDir } from '../test/databases.js';
import { REPO_ROOT, startHubProcess } from '../test/hub-process.js';

const run = promisify(execFile);

describe('keney CLI on an embedded data directory', () => {
  let dataDir: string;
  const token = `kny_cli_${randomBytes(16).toString('hex')}`;
  const keney = async (...args: string[]): Promise<{ code: number; out: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [join(REPO_ROOT, 'bin/keney.js'), ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, KENEY_DATA_DIR: dataDir, KENEY_LOG_LEVEL: 'warn' },
        maxBuffer: 16 * 1024 * 1024,
      });
      return { code: 0, out: stdout + stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout + e.stderr };
    }
  };
  const withDatabase = async (fn: (sql: PgliteClient) => Promise<void>) => {
    const sql = await PgliteClient.open(join(dataDir, 'pglite'));
    try {
      await fn(sql);
    } finally {
      await sql.close();
    }
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'keney-cli-'));
    await prepareEmbeddedDataDir(dataDir);
    const hub = await startHubProcess({ KENEY_DATA_DIR: dataDir, KENEY_ADMIN_TOKEN: token });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
    for (let i = 0; i < 20; i++) {
      const created = await fetch(`${hub.url}/fhir/Patient`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          resourceType: 'Patient',
          name: [{ family: `Cli ${i}` }],
          birthDate: `19${50 + i}-01-0${(i % 9) + 1}`,
        }),
      });
      const patient = (await created.json()) as { id: string };
      await fetch(`${hub.url}/fhir/Observation`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'K' },
          subject: { reference: `Patient/${patient.id}` },
          valueQuantity: { value: i, unit: 'mmol/L' },
        }),
      });
      if (i % 5 === 0) await fetch(`${hub.url}/fhir/Patient/${patient.id}`, { method: 'DELETE', headers });
      await fetch(`${hub.url}/fhir/Patient?name=cli`, { headers });
    }
    // Taking a lock beside a running hub is refused, with the fix in the message.
    const locked = await keney('store', 'digest');
    expect(locked.code).toBe(64);
    expect(locked.out).toContain('Another Keney Hub process');
    expect(await hub.kill('SIGTERM')).toBe(0);
  }, 300_000);
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('store rebuild refolds the log into the identical digest, and store verify is clean', async () => {
    const before = await keney('store', 'digest');
    expect(before.code).toBe(0);
    expect(before.out).toMatch(/resources\s+\d+:\d+/);
    const rebuilt = await keney('store', 'rebuild');
    expect(rebuilt.code).toBe(0);
    const digestLines = (text: string) => text.split('\n').filter((l) => /^\w+\s+\d+:\d+$/.test(l.trim()));
    expect(digestLines(rebuilt.out)).toEqual(digestLines(before.out));
    expect(digestLines(before.out).length).toBe(11);
    const verified = await keney('store', 'verify');
    expect(verified.out).toContain('The store is consistent.');
    expect(verified.code).toBe(0);
  }, 300_000);

  it('store verify names a resource whose index drifted from its content', async () => {
    let id = '';
    await withDatabase(async (sql) => {
      const row = await sql.query<{ id: string }>(
        "SELECT id FROM sp_string WHERE resource_type = 'Patient' AND param = 'family' LIMIT 1",
      );
      id = row.rows[0]!.id;
      await sql.query(
        "UPDATE sp_string SET value = 'forged' WHERE resource_type = 'Patient' AND id = $1 AND param = 'family'",
        [id],
      );
    });
    const verified = await keney('store', 'verify');
    expect(verified.code).toBe(1);
    expect(verified.out).toContain(`Patient/${id}`);
    expect(verified.out).toContain('keney store rebuild');
    expect((await keney('store', 'rebuild')).code).toBe(0);
    expect((await keney('store', 'verify')).code).toBe(0);
  }, 300_000);

  it('audit verify reports a modified row and a deleted row', async () => {
    const intact = await keney('audit', 'verify');
    expect(intact.code).toBe(0);
    expect(intact.out).toMatch(/Audit trail intact: \d+ rows/);
    await withDatabase(async (sql) => {
      await sql.query("UPDATE audit_trail SET actor = 'someone-else' WHERE seq = 3");
    });
    const modified = await keney('audit', 'verify');
    expect(modified.code).toBe(2);
    expect(modified.out).toContain('row 3 was modified');
    await withDatabase(async (sql) => {
      await sql.query('DELETE FROM audit_trail WHERE seq = 7');
    });
    const deleted = await keney('audit', 'verify');
    expect(deleted.code).toBe(2);
    expect(deleted.out).toContain('rows 7..7 are missing');
  }, 300_000);
});
