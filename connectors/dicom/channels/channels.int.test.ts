// DICOM channels from files in a running hub: routing by modality and calling AE, the record, forwarding by
// C-STORE to dcmtk's storescp (a real PACS-like peer) and by STOW-RS to another DICOMweb server, a peer that is
// down (retries until it comes up), a dead letter and its replay — and every instance a message in the message store.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, ImagingStudy } from '@medplum/fhirtypes';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPart10 } from '../../../adapters/dicom/part10.js';
import { eventually } from '../../../engine/test-support.js';
import { HUB_PROFILES, type TestHub } from '../../../test/hub-harness.js';
import { hasService } from '../../../test/services.js';
import { dicomWebPlugin } from '../dicomweb/plugin.js';
import type { DicomModule } from '../hub/dicom-module.js';
import { syntheticStudy } from '../record/test-support.js';
import { freePort, openTestDicom, runTool, type TestDicom } from '../test-support.js';
import { adminApi, openDicomHub, storescu as storescuTo } from '../hub/test-support.js';

/** dcmtk's storescp, bit-preserving (+B), writing what it receives to `dir`. */
async function startStorescp(aeTitle: string, port: number, dir: string): Promise<ChildProcess> {
  const child = spawn('storescp', ['+B', '-aet', aeTitle, '-od', dir, String(port)], { stdio: 'ignore' });
  await eventually(
    async () => (await runTool('echoscu', ['-aec', aeTitle, '127.0.0.1', String(port)])).code === 0,
    `storescp on ${port}`,
  );
  return child;
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

for (const { profile, available } of HUB_PROFILES) {
  describe.skipIf(!hasService('dcmtk') || !available())(`DICOM channels from files (${profile})`, () => {
    let t: TestHub;
    let dicom: DicomModule;
    let work: string;
    let pacsPort: number;
    let latePort: number;
    let peer: TestDicom;
    let peerApp: FastifyInstance;
    const peers: ChildProcess[] = [];

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'keney-dicom-channels-'));
      const dir = join(work, 'dicom-channels');
      await mkdir(dir);
      await mkdir(join(work, 'pacs'));
      await mkdir(join(work, 'late'));
      pacsPort = await freePort();
      latePort = await freePort();
      peer = await openTestDicom();
      peerApp = Fastify();
      await peerApp.register(dicomWebPlugin, { service: peer.service, prefix: '/dicom-web' });
      await peerApp.listen({ host: '127.0.0.1', port: 0 });
      const peerUrl = `http://127.0.0.1:${(peerApp.server.address() as AddressInfo).port}/dicom-web`;
      await writeFile(
        join(dir, 'ct-forward.channel.yaml'),
        `name: CT from CT_SALLE_1, into the record and to the regional PACS
source: { type: dicom }
filters:
  - field: Modality
    equals: CT
  - field: CallingAETitle
    equals: CT_SALLE_1
destinations:
  - type: store
  - type: dicom
    name: regional-pacs
    aeTitle: PACS_REG
    host: 127.0.0.1
    port: \${PACS_PORT}
    retry: { maxAttempts: 1000, initialDelayMs: 100, maxDelayMs: 200 }
`,
      );
      await writeFile(
        join(dir, 'mr-web.channel.yaml'),
        `source: { type: dicom }
filters: [{ field: Modality, equals: MR }]
destinations:
  - { type: dicomweb, name: web-pacs, url: "\${WEB_PACS}/studies", retry: { maxAttempts: 50, initialDelayMs: 100, maxDelayMs: 200 } }
`,
      );
      await writeFile(
        join(dir, 'late.channel.yaml'),
        `source: { type: dicom }
filters: [{ field: CallingAETitle, equals: LATE_SENDER }]
destinations:
  - type: dicom
    name: late-pacs
    aeTitle: PACS_LATE
    host: 127.0.0.1
    port: \${LATE_PORT}
    retry: { maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 50 }
`,
      );
      await writeFile(
        join(dir, 'broken.channel.yaml'),
        'destinations:\n  - type: dicom\n    name: x\n    aeTitel: X\n    host: h\n    port: 104\n',
      );
      ({ t, dicom } = await openDicomHub(profile, work, {
        channelsDir: dir,
        env: { PACS_PORT: String(pacsPort), LATE_PORT: String(latePort), WEB_PACS: peerUrl },
        deliveryPollMs: 200,
      }));
    }, 120_000);

    afterAll(async () => {
      for (const child of peers) await stopProcess(child);
      await t?.close();
      await peerApp?.close();
      await peer?.close();
      if (work) await rm(work, { recursive: true, force: true });
    });

    const api = () => adminApi(t);
    const admin = <T>(url: string, method: 'GET' | 'POST' = 'GET', body?: unknown) => api().call<T>(url, method, body);
    const messagesOf = (channel: string, controlId: string) => api().messagesOf(channel, controlId);
    const detail = (id: string) => api().detail(id);
    const storescu = (callingAe: string, files: Buffer[]) => storescuTo(work, dicom.dimsePort!, callingAe, files);
    /** The data set bytes storescp wrote for an instance (it names files after the SOP Instance UID). */
    const received = async (dir: string, sopInstanceUid: string): Promise<Buffer | undefined> => {
      const name = (await readdir(dir)).find((f) => f.endsWith(sopInstanceUid));
      if (!name) return undefined;
      const file = readPart10(await readFile(join(dir, name)));
      return file.bytes.subarray(file.dataSetOffset);
    };

    it('reports the invalid file with its line and fix, and runs the others', async () => {
      const status = await admin<{
        channels: { id: string }[];
        invalidChannels: { file: string; issues: { line: number; path: string; fix: string }[] }[];
      }>('/admin/dicom');
      expect(status.channels.map((c) => c.id)).toEqual(['ct-forward', 'late', 'mr-web']);
      expect(status.invalidChannels).toHaveLength(1);
      expect(status.invalidChannels[0]!.file).toMatch(/broken\.channel\.yaml$/);
      expect(status.invalidChannels[0]!.issues).toContainEqual(
        expect.objectContaining({
          line: 4,
          path: 'destinations[0].aeTitel',
          fix: expect.stringMatching(/Did you mean "aeTitle"/),
        }),
      );
    });

    it('routes by modality and calling AE; forwards by C-STORE, retrying until the PACS comes up, and by STOW-RS', async () => {
      const study = syntheticStudy(2, 2, { patientId: 'IPP-ROUTE', issuer: 'CH-TEST', accession: 'ACC-ROUTE' });
      const [ct1, ct2, mr1, mr2] = study;
      const sent = await storescu(
        'CT_SALLE_1',
        study.map((i) => i.file),
      );
      expect(sent.code, sent.stderr).toBe(0);

      // The record has the CT instances (the only ones a store destination took).
      const bundle = await admin<Bundle>(
        `/fhir/ImagingStudy?identifier=urn:dicom:uid|urn:oid:${ct1!.studyInstanceUid}`,
      );
      const imaging = bundle.entry![0]!.resource as ImagingStudy;
      expect(imaging.series!.map((s) => [s.modality.code, s.numberOfInstances])).toEqual([['CT', 2]]);

      // MR instances: filtered by ct-forward (saying why), delivered to the DICOMweb peer by mr-web.
      const [filtered] = await messagesOf('ct-forward', mr1!.sopInstanceUid);
      expect(filtered!.status).toBe('filtered');
      expect((await detail(filtered!.id)).warnings[0]!.message).toBe('Modality is "MR"; it must equal "CT"');
      await eventually(
        async () => (await peer.service.index.findInstance(mr2!.sopInstanceUid)) !== undefined,
        'the MR at the DICOMweb peer',
      );
      const [viaWeb] = await messagesOf('mr-web', mr1!.sopInstanceUid);
      await eventually(async () => (await detail(viaWeb!.id)).deliveries[0]!.status === 'sent', 'the STOW-RS delivery');
      expect((await detail(viaWeb!.id)).deliveries[0]!.response).toBe('STOW-RS 200');

      // The regional PACS is down: the CT deliveries are retried…
      const [ctMessage] = await messagesOf('ct-forward', ct1!.sopInstanceUid);
      await eventually(
        async () => (await detail(ctMessage!.id)).deliveries[0]!.attempts >= 2,
        'retries while the PACS is down',
      );
      expect((await detail(ctMessage!.id)).deliveries[0]).toMatchObject({
        status: 'pending',
        lastError: expect.stringMatching(/PACS_REG@127\.0\.0\.1:\d+: Cannot connect/),
      });
      // …until it comes up: both arrive, byte for byte.
      peers.push(await startStorescp('PACS_REG', pacsPort, join(work, 'pacs')));
      for (const instance of [ct1!, ct2!]) {
        const bytes = await eventually(
          () => received(join(work, 'pacs'), instance.sopInstanceUid),
          `${instance.sopInstanceUid} at the PACS`,
        );
        expect(bytes.equals(instance.dataSet)).toBe(true);
      }
      // The file is written by the PACS before its C-STORE answer reaches us: wait for both messages to say sent.
      const [ct2Message] = await messagesOf('ct-forward', ct2!.sopInstanceUid);
      for (const message of [ctMessage!, ct2Message!]) {
        await eventually(
          async () => (await detail(message.id)).status === 'sent',
          `CT message ${message.controlId} sent`,
        );
      }
      expect((await detail(ctMessage!.id)).deliveries[0]!.response).toBe('C-STORE 0x0000');
      expect(await received(join(work, 'pacs'), mr1!.sopInstanceUid)).toBeUndefined();

      const statsNow = async () => {
        const status = await admin<{ channels: { id: string; stats: { total: Record<string, number> } }[] }>(
          '/admin/dicom',
        );
        return Object.fromEntries(status.channels.map((c) => [c.id, c.stats.total]));
      };
      // A delivery is counted right after its status is written: wait until both forwards are counted.
      const stats = await eventually(async () => {
        const now = await statsNow();
        return now['ct-forward']?.sent === 2 && now['mr-web']?.sent === 2 ? now : undefined;
      }, 'both forwards counted');
      expect(stats['ct-forward']).toMatchObject({ received: 4, filtered: 2, accepted: 2, sent: 2 });
      expect(stats['ct-forward']!.deliveryFailed).toBeGreaterThanOrEqual(2);
      expect(stats['mr-web']).toMatchObject({ received: 4, filtered: 2, accepted: 2, sent: 2 });
      const metrics = (await t.hub.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(
        /keney_channel_deliveries_total\{channel="ct-forward",destination="regional-pacs",outcome="sent"\} 2/,
      );
    });

    it('dead-letters after the last attempt, keeps the instance archived, and delivers on replay once the peer is back', async () => {
      const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-LATE', issuer: 'CH-TEST' });
      expect((await storescu('LATE_SENDER', [instance!.file])).code).toBe(0);
      const [message] = await messagesOf('late', instance!.sopInstanceUid);
      await eventually(async () => (await detail(message!.id)).deliveries[0]!.status === 'dead', 'the dead letter');
      const dead = await detail(message!.id);
      expect(dead.deliveries[0]!.attempts).toBe(2);
      const view = await admin<{ channels: { id: string; destinations: { name: string; dead: number }[] }[] }>(
        '/admin/dicom',
      );
      expect(view.channels.find((c) => c.id === 'late')!.destinations[0]).toMatchObject({ name: 'late-pacs', dead: 1 });
      // Not in the record (no store destination took it), but archived: WADO-RS has it.
      const wado = await t.hub.app.inject({
        method: 'GET',
        url: `/dicomweb/studies/${instance!.studyInstanceUid}/metadata`,
        headers: t.auth,
      });
      expect(wado.statusCode).toBe(200);
      expect(
        (await admin<Bundle>(`/fhir/ImagingStudy?identifier=urn:dicom:uid|urn:oid:${instance!.studyInstanceUid}`))
          .entry ?? [],
      ).toEqual([]);

      peers.push(await startStorescp('PACS_LATE', latePort, join(work, 'late')));
      const replay = await admin<{ status: string }>(`/admin/dicom/messages/${message!.id}/replay`, 'POST', {
        destination: 'late-pacs',
      });
      expect(replay.status).toBe('queued');
      const bytes = await eventually(
        () => received(join(work, 'late'), instance!.sopInstanceUid),
        'the replayed instance at the late PACS',
      );
      expect(bytes.equals(instance!.dataSet)).toBe(true);
      await eventually(
        async () => (await detail(message!.id)).deliveries.some((d) => d.status === 'sent'),
        'the replayed delivery sent',
      );
      const unknown = await t.hub.app.inject({
        method: 'POST',
        url: `/admin/dicom/messages/${message!.id}/replay`,
        headers: t.auth,
        payload: { destination: 'nowhere' },
      });
      expect(unknown.statusCode).toBe(404);
      expect(JSON.parse(unknown.body).error.message).toMatch(
        /has no destination "nowhere"; its destinations are late-pacs/,
      );
    });
  });
}
