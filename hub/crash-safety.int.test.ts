// Acceptance: `kill -9` of the hub during a stream of writes. Every write that got a 2xx is present after
// the restart, and none is there twice (the writes are conditional creates on a business identifier, so
// "twice" would be two patients with one identifier).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, describe, expect, it } from 'vitest';
import { hubProcessProfiles, startHubProcess, type HubProcess } from '../test/hub-process.js';

const SYSTEM = 'urn:oid:1.2.250.1.999.7.7';
const WRITERS = 8;

const profiles = hubProcessProfiles('keney.test.crash');

for (const profile of profiles) {
  describe.skipIf(!profile.available())(`kill -9 during writes (${profile.name})`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    });

    it('keeps every acknowledged write, once', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'keney-crash-'));
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      const { env: extra, cleanup } = await profile.env(dataDir);
      cleanups.push(cleanup);
      const token = `kny_crash_${randomBytes(16).toString('hex')}`;
      const env = { KENEY_DATA_DIR: dataDir, KENEY_ADMIN_TOKEN: token, ...extra };
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };

      let hub: HubProcess = await startHubProcess(env);
      cleanups.push(() => hub.kill('SIGKILL').then(() => undefined));
      const acknowledged = new Set<string>();
      const attempted = new Set<string>();
      let stop = false;
      const writer = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const value = `W${w}-${i}`;
          attempted.add(value);
          try {
            const response = await fetch(`${hub.url}/fhir/Patient`, {
              method: 'POST',
              headers: { ...headers, 'if-none-exist': `identifier=${SYSTEM}|${value}` },
              body: JSON.stringify({
                resourceType: 'Patient',
                identifier: [{ system: SYSTEM, value }],
                name: [{ family: `Crash ${value}` }],
              }),
            });
            if (response.status === 201 || response.status === 200) acknowledged.add(value);
            else if (!stop) throw new Error(`unexpected ${response.status}: ${await response.text()}`);
          } catch (error) {
            if (!stop) throw error;
            return;
          }
        }
      };
      const writers = Array.from({ length: WRITERS }, (_, w) =>
        writer(w).catch((error) => (stop ? undefined : Promise.reject(error))),
      );
      while (acknowledged.size < 150) await new Promise((r) => setTimeout(r, 20));
      stop = true;
      await hub.kill('SIGKILL');
      await Promise.all(writers);
      expect(acknowledged.size).toBeGreaterThanOrEqual(150);

      hub = await startHubProcess(env);
      const present = new Map<string, number>();
      for (let offset = 0; ; offset += 1000) {
        const response = await fetch(`${hub.url}/fhir/Patient?identifier=${SYSTEM}|&_count=1000&_offset=${offset}`, {
          headers,
        });
        const bundle = (await response.json()) as Bundle;
        for (const entry of bundle.entry ?? []) {
          const value = (entry.resource as { identifier: { value: string }[] }).identifier[0]!.value;
          present.set(value, (present.get(value) ?? 0) + 1);
        }
        if (!bundle.link?.some((l) => l.relation === 'next')) break;
      }
      const lost = [...acknowledged].filter((v) => !present.has(v));
      const duplicated = [...present].filter(([, n]) => n > 1).map(([v]) => v);
      const phantom = [...present.keys()].filter((v) => !attempted.has(v));
      console.log(
        `${profile.name}: ${acknowledged.size} acknowledged, ${present.size} present after restart (${present.size - acknowledged.size} in flight at the kill and kept)`,
      );
      expect(lost).toEqual([]);
      expect(duplicated).toEqual([]);
      expect(phantom).toEqual([]);
      await hub.kill('SIGTERM');
    }, 300_000);
  });
}
