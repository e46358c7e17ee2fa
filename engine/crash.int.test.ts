// Acceptance 3: `kill -9` of the hub (the real `keney serve`, with its shipped default channel and mappings)
// while a third-party MLLP client streams lab results over several connections. After the restart every message
// that got AA is in the message store (status sent) and in the record — once.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, hubProcessProfiles, startHubProcess, type HubProcess } from '../test/hub-process.js';

const ORU = readFileSync(new URL('../fixtures/channels/oru-r01-glucose.hl7', import.meta.url), 'latin1');
const SENDERS = 8;

function result(controlId: string, patient: string): string {
  return ORU.replace('LAB-0001', controlId)
    .replace('IPP-1001', patient)
    .replace('PL-0001', `PL-${controlId}`)
    .replace('FL-0001', `FL-${controlId}`);
}

const profiles = hubProcessProfiles('keney.test.engine-crash');

for (const profile of profiles) {
  describe.skipIf(!profile.available())(`acceptance: kill -9 under an MLLP stream (${profile.name})`, () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    });

    it('keeps every acknowledged message, processed once', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'keney-engine-crash-'));
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      const { env: extra, cleanup } = await profile.env(dataDir);
      cleanups.push(cleanup);
      const token = `kny_crash_${randomBytes(16).toString('hex')}`;
      const mllpPort = await freePort();
      const env = {
        KENEY_DATA_DIR: dataDir,
        KENEY_ADMIN_TOKEN: token,
        KENEY_MLLP_PORT: String(mllpPort),
        KENEY_MLLP_HOST: '127.0.0.1',
        ...extra,
      };
      const headers = { authorization: `Bearer ${token}` };

      let hub: HubProcess = await startHubProcess(env);
      cleanups.push(() => hub.kill('SIGKILL'));
      const acknowledged = new Set<string>();
      const attempted = new Set<string>();
      let stop = false;
      const sender = async (s: number) => {
        const client = new Hl7Client({ host: '127.0.0.1', port: mllpPort });
        try {
          for (let i = 0; !stop; i++) {
            const controlId = `K${s}-${i}`;
            attempted.add(controlId);
            const reply = await client.sendAndWait(Hl7Message.parse(result(controlId, `IPP-K${s}`)), {
              timeoutMs: 10_000,
            });
            const code = reply.getSegment('MSA')?.getField(1)?.toString();
            if (code === 'AA') acknowledged.add(controlId);
            else if (!stop) throw new Error(`${controlId} got ${code}: ${reply.toString()}`);
          }
        } catch (error) {
          if (!stop) throw error;
        } finally {
          await client.close().catch(() => undefined);
        }
      };
      const senders = Array.from({ length: SENDERS }, (_, s) => sender(s));
      while (acknowledged.size < 120) {
        await new Promise((r) => setTimeout(r, 20));
        if (hub.child.exitCode !== null) throw new Error(`the hub exited:\n${hub.output()}`);
      }
      stop = true;
      await hub.kill('SIGKILL');
      await Promise.all(senders);

      hub = await startHubProcess(env);
      const lost: string[] = [];
      const twice: string[] = [];
      const notSent: string[] = [];
      for (const controlId of acknowledged) {
        const search = (await (
          await fetch(`${hub.url}/admin/messages?controlId=${controlId}`, { headers })
        ).json()) as { messages: { status: string }[] };
        if (search.messages.length !== 1) (search.messages.length === 0 ? lost : twice).push(controlId);
        else if (search.messages[0]!.status !== 'sent') notSent.push(`${controlId}: ${search.messages[0]!.status}`);
      }
      // In the record: one DiagnosticReport per acknowledged result (waiting for the projection to catch up).
      const deadline = Date.now() + 60_000;
      let missing: string[] = [...acknowledged];
      while (missing.length > 0 && Date.now() < deadline) {
        const next: string[] = [];
        for (const controlId of missing) {
          const bundle = (await (
            await fetch(`${hub.url}/fhir/DiagnosticReport?identifier=FL-${controlId}`, { headers })
          ).json()) as Bundle;
          const n = bundle.entry?.length ?? 0;
          if (n === 0) next.push(controlId);
          else if (n > 1) twice.push(`DiagnosticReport ${controlId}`);
        }
        missing = next;
        if (missing.length > 0) await new Promise((r) => setTimeout(r, 500));
      }
      const phantom = (await (
        await fetch(`${hub.url}/admin/messages?channel=default-inbound&limit=1000`, { headers })
      ).json()) as { messages: { controlId: string }[] };
      console.log(
        `${profile.name}: ${acknowledged.size} acknowledged, ${phantom.messages.length} stored after restart`,
      );
      expect(lost).toEqual([]);
      expect(twice).toEqual([]);
      expect(notSent).toEqual([]);
      expect(missing).toEqual([]);
      expect(phantom.messages.filter((m) => !attempted.has(m.controlId))).toEqual([]);
      await hub.kill('SIGTERM');
    }, 300_000);
  });
}
