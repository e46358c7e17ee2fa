// Hot reload of DICOM channel files in a running hub (the directory is watched): a file added, edited, made
// invalid (the last good version keeps routing, the listing says why with the line and the fix), written several
// times in a row, deleted (its queue and messages stay visible) — with instances sent by storescu (DIMSE) and
// STOW-RS, and instances sent while a reload is under way each routed once, by the old or by the new file.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, ImagingStudy } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../engine/test-support.js';
import { HUB_PROFILES, type TestHub } from '../../../test/hub-harness.js';
import { hasService } from '../../../test/services.js';
import { buildMultipart } from '../dicomweb/multipart.js';
import type { DicomModule } from '../hub/dicom-module.js';
import { adminApi, openDicomHub, storescu } from '../hub/test-support.js';
import { syntheticStudy } from '../record/test-support.js';
import { freePort } from '../test-support.js';
import type { DicomChannelListing, DicomChannelsReload, InvalidDicomChannel } from './directory.js';

interface Listing {
  watching: boolean;
  channels: DicomChannelListing[];
  invalidChannels: InvalidDicomChannel[];
  retiredQueues: { channel: string; destination: string; pending: number; dead: number }[];
  lastReload: DicomChannelsReload;
}

const ctChannel = (name: string, modality: string) => `name: ${name}
source: { type: dicom }
filters:
  - field: Modality
    equals: ${modality}
destinations:
  - type: store
`;

for (const { profile, available } of HUB_PROFILES) {
  describe.skipIf(!hasService('dcmtk') || !available())(`hot reload of DICOM channel files (${profile})`, () => {
    let t: TestHub;
    let dicom: DicomModule;
    let work: string;
    /** The DICOM channels directory: not there at start, created by the first test. */
    const dir = () => join(work, 'dicom-channels');
    const closed = { port: 0 };

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'keney-dicom-reload-'));
      closed.port = await freePort();
      ({ t, dicom } = await openDicomHub(profile, work, {
        channelsDir: dir(),
        deliveryPollMs: 200,
      }));
    }, 120_000);

    afterAll(async () => {
      await t?.close();
      if (work) await rm(work, { recursive: true, force: true });
    });

    const api = () => adminApi(t);
    const listing = () => api().call<Listing>('/admin/dicom/channels');
    /** Waits until the listing satisfies `check` (the watcher applies a change a moment after the write). */
    const listingWhere = (check: (l: Listing) => boolean, what: string) =>
      eventually(async () => {
        const now = await listing();
        return check(now) ? now : undefined;
      }, what);
    const channelIds = (l: Listing) => l.channels.map((c) => c.id).sort();
    const send = (callingAe: string, files: Buffer[]) => storescu(work, dicom.dimsePort!, callingAe, files);
    const stow = (files: Buffer[]) => {
      const { body, boundary } = buildMultipart(
        files.map((file) => ({ contentType: 'application/dicom', body: file })),
      );
      return t.hub.app.inject({
        method: 'POST',
        url: '/dicomweb/studies',
        headers: { ...t.auth, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
        payload: body,
      });
    };
    /** The one message of `channel` about an instance (fails if there are none or several). */
    const onlyMessage = async (channel: string, sopInstanceUid: string) => {
      const messages = await api().messagesOf(channel, sopInstanceUid);
      expect(messages, `messages of ${channel} for ${sopInstanceUid}`).toHaveLength(1);
      return messages[0]!;
    };

    it('runs the built-in channel while the directory does not exist, and a file as soon as one appears', async () => {
      const before = await listing();
      expect(before.watching).toBe(true);
      expect(before.channels.map((c) => [c.id, c.file])).toEqual([['dicom', null]]);
      const [ct1, ct2] = syntheticStudy(1, 2, { patientId: 'IPP-RELOAD-1', issuer: 'CH-TEST' });
      expect((await send('CT_SALLE_1', [ct1!.file])).code).toBe(0);
      expect((await onlyMessage('dicom', ct1!.sopInstanceUid)).status).toBe('sent');

      await mkdir(dir());
      await writeFile(join(dir(), 'ct.channel.yaml'), ctChannel('CT into the record', 'CT'));
      const after = await listingWhere(
        (l) => channelIds(l).join() === 'ct',
        'the file channel instead of the built-in',
      );
      expect(after.lastReload).toMatchObject({ trigger: 'watch', added: ['ct'], removed: ['dicom'], error: null });
      expect(after.channels[0]).toMatchObject({ name: 'CT into the record', pendingFileError: null, issues: [] });

      expect((await send('CT_SALLE_1', [ct2!.file])).code).toBe(0);
      expect((await onlyMessage('ct', ct2!.sopInstanceUid)).status).toBe('sent');
      expect(await api().messagesOf('dicom', ct2!.sopInstanceUid)).toEqual([]);
    });

    it('applies an edited file to the next instance, by DIMSE and by STOW-RS', async () => {
      await writeFile(join(dir(), 'ct.channel.yaml'), ctChannel('MR only', 'MR'));
      const now = await listingWhere((l) => l.channels[0]?.name === 'MR only', 'the edited channel');
      expect(now.lastReload).toMatchObject({ updated: ['ct'], added: [], removed: [] });
      expect(now.channels[0]!.filters).toEqual([{ field: 'Modality', equals: 'MR' }]);

      const [ct, mr] = syntheticStudy(2, 1, { patientId: 'IPP-RELOAD-2', issuer: 'CH-TEST' });
      expect((await stow([ct!.file, mr!.file])).statusCode).toBe(200);
      expect((await onlyMessage('ct', ct!.sopInstanceUid)).status).toBe('filtered');
      expect((await onlyMessage('ct', mr!.sopInstanceUid)).status).toBe('sent');
    });

    it('keeps the last good version running when the file becomes invalid, and lists the error with its line and fix', async () => {
      await writeFile(
        join(dir(), 'ct.channel.yaml'),
        `${ctChannel('MR only, broken', 'MR')}  - type: dicom\n    name: pacs\n    aeTitel: PACS\n    host: 127.0.0.1\n    port: 104\n`,
      );
      const now = await listingWhere((l) => l.channels[0]?.pendingFileError !== null, 'the file error reported');
      expect(now.channels.map((c) => [c.id, c.name])).toEqual([['ct', 'MR only']]);
      expect(now.channels[0]!.issues).toContainEqual(
        expect.objectContaining({
          line: 10,
          path: 'destinations[1].aeTitel',
          fix: expect.stringMatching(/Did you mean "aeTitle"/),
        }),
      );
      expect(now.channels[0]!.pendingFileError).toMatch(/ct\.channel\.yaml:10:/);
      expect(now.lastReload).toMatchObject({ invalid: [join(dir(), 'ct.channel.yaml')], updated: [], error: null });
      // Running the file's previous version, it is not also an invalid channel that runs nothing.
      expect(now.invalidChannels).toEqual([]);

      const [, mr] = syntheticStudy(2, 1, { patientId: 'IPP-RELOAD-3', issuer: 'CH-TEST' });
      expect((await send('MR_SALLE_2', [mr!.file])).code).toBe(0);
      expect((await onlyMessage('ct', mr!.sopInstanceUid)).status).toBe('sent');

      await writeFile(join(dir(), 'ct.channel.yaml'), ctChannel('MR only, fixed', 'MR'));
      const fixed = await listingWhere((l) => l.channels[0]?.name === 'MR only, fixed', 'the fixed file applied');
      expect(fixed.channels[0]).toMatchObject({ pendingFileError: null, issues: [] });
    });

    it('starts a channel whose file is added, and stops one whose file is deleted — its queue and messages stay visible', async () => {
      await writeFile(
        join(dir(), 'fwd.channel.yaml'),
        `source: { type: dicom }
filters: [{ field: CallingAETitle, equals: FWD_SENDER }]
destinations:
  - { type: dicom, name: closed-pacs, aeTitle: PACS_CLOSED, host: 127.0.0.1, port: ${closed.port}, retry: { maxAttempts: 1000, initialDelayMs: 100, maxDelayMs: 200 } }
`,
      );
      const added = await listingWhere((l) => channelIds(l).join() === 'ct,fwd', 'the added channel');
      expect(added.lastReload).toMatchObject({ added: ['fwd'], updated: [], removed: [] });

      const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-RELOAD-4', issuer: 'CH-TEST' });
      expect((await send('FWD_SENDER', [instance!.file])).code).toBe(0);
      const message = await onlyMessage('fwd', instance!.sopInstanceUid);
      await eventually(
        async () => ((await api().detail(message.id)).deliveries[0]?.attempts ?? 0) >= 1,
        'a first attempt at the closed PACS',
      );

      await rm(join(dir(), 'fwd.channel.yaml'));
      const removed = await listingWhere((l) => channelIds(l).join() === 'ct', 'the channel removed');
      expect(removed.lastReload).toMatchObject({ removed: ['fwd'], added: [], updated: [] });
      expect(removed.retiredQueues).toEqual([{ channel: 'fwd', destination: 'closed-pacs', pending: 1, dead: 0 }]);
      // The message is kept, with its delivery still pending; a replay says why it cannot run.
      const kept = await api().detail(message.id);
      expect(kept.status).toBe('queued');
      expect(kept.deliveries[0]).toMatchObject({ destination: 'closed-pacs', status: 'pending' });
      for (const url of [`/admin/dicom/messages/${message.id}/replay`, `/admin/messages/${message.id}/replay`]) {
        const replay = await t.hub.app.inject({ method: 'POST', url, headers: t.auth, payload: {} });
        expect(replay.statusCode, url).toBe(409);
        expect(JSON.parse(replay.body).error.message).toMatch(/whose file was removed: put the file back/);
      }
    });

    it('applies the last of several writes in a row, even when one in the middle is invalid', async () => {
      const file = join(dir(), 'ct.channel.yaml');
      await writeFile(file, ctChannel('burst 1', 'MR'));
      await writeFile(file, ctChannel('burst 2', 'MR'));
      await writeFile(file, 'name: burst 3\nsource: { type: dicom }\ndestinations:\n  - type: stor\n');
      await writeFile(file, ctChannel('burst 4', 'MR'));
      await writeFile(file, ctChannel('burst 5', 'CT'));
      const now = await listingWhere((l) => l.channels[0]?.name === 'burst 5', 'the last write applied');
      expect(now.channels[0]).toMatchObject({ pendingFileError: null, filters: [{ field: 'Modality', equals: 'CT' }] });
      expect(now.lastReload.invalid).toEqual([]);

      const [ct, mr] = syntheticStudy(2, 1, { patientId: 'IPP-RELOAD-5', issuer: 'CH-TEST' });
      expect((await send('CT_SALLE_1', [ct!.file, mr!.file])).code).toBe(0);
      expect((await onlyMessage('ct', ct!.sopInstanceUid)).status).toBe('sent');
      expect((await onlyMessage('ct', mr!.sopInstanceUid)).status).toBe('filtered');
    });

    it('routes each instance sent while a reload is under way once, by the old file or by the new', async () => {
      // One MR series, sent one instance at a time while the channel changes from "CT only" to "MR too":
      // filtered = the old file, sent = the new one. Each instance has exactly one message, the old file's
      // answers all come before the new one's, and the record holds exactly the instances the new file took.
      const study = syntheticStudy(2, 60, { patientId: 'IPP-RELOAD-6', issuer: 'CH-TEST' });
      const series = study.filter((_, i) => i >= 60);
      const statuses: string[] = [];
      for (const [i, instance] of series.entries()) {
        expect((await send('MR_SALLE_2', [instance.file])).code).toBe(0);
        const messages = await api().messagesOf('ct', instance.sopInstanceUid);
        expect(messages, instance.sopInstanceUid).toHaveLength(1);
        statuses.push(messages[0]!.status);
        if (i === 0)
          await writeFile(
            join(dir(), 'ct.channel.yaml'),
            ctChannel('CT and MR', 'MR').replace('equals: MR', 'in: [CT, MR]'),
          );
        if (statuses.at(-1) === 'sent') break;
      }
      expect(statuses.at(-1), 'the new file routed an instance before the series ran out').toBe('sent');
      expect(statuses[0]).toBe('filtered');
      const firstNew = statuses.indexOf('sent');
      expect(statuses.slice(0, firstNew).every((s) => s === 'filtered')).toBe(true);
      expect(statuses.slice(firstNew).every((s) => s === 'sent')).toBe(true);

      const bundle = await api().call<Bundle>(
        `/fhir/ImagingStudy?identifier=urn:dicom:uid|urn:oid:${series[0]!.studyInstanceUid}`,
      );
      const imaging = bundle.entry![0]!.resource as ImagingStudy;
      expect(imaging.series!.map((s) => [s.modality.code, s.numberOfInstances])).toEqual([
        ['MR', statuses.length - firstNew],
      ]);
    });

    it('goes back to the built-in channel when the last file is deleted', async () => {
      await rm(join(dir(), 'ct.channel.yaml'));
      const now = await listingWhere((l) => channelIds(l).join() === 'dicom', 'the built-in channel back');
      expect(now.lastReload).toMatchObject({ added: ['dicom'], removed: ['ct'] });
      const [mr] = syntheticStudy(1, 1, { patientId: 'IPP-RELOAD-7', issuer: 'CH-TEST' });
      expect((await send('MR_SALLE_2', [mr!.file])).code).toBe(0);
      expect((await onlyMessage('dicom', mr!.sopInstanceUid)).status).toBe('sent');
      expect(await api().messagesOf('ct', mr!.sopInstanceUid)).toEqual([]);
    });

    it('keeps the built-in channel while the only file is invalid, and starts the file once it is fixed', async () => {
      const file = join(dir(), 'bad.channel.yaml');
      await writeFile(file, 'source: { type: dicom }\ndestinations:\n  - type: stor\n');
      const invalid = await listingWhere((l) => l.invalidChannels.length === 1, 'the invalid file listed');
      expect(channelIds(invalid)).toEqual(['dicom']);
      expect(invalid.invalidChannels[0]).toMatchObject({ file, issues: [expect.objectContaining({ line: 3 })] });
      const [ct] = syntheticStudy(1, 1, { patientId: 'IPP-RELOAD-8', issuer: 'CH-TEST' });
      expect((await send('CT_SALLE_1', [ct!.file])).code).toBe(0);
      expect((await onlyMessage('dicom', ct!.sopInstanceUid)).status).toBe('sent');

      await writeFile(file, ctChannel('fixed', 'CT'));
      const fixed = await listingWhere((l) => channelIds(l).join() === 'bad', 'the fixed file running');
      expect(fixed.invalidChannels).toEqual([]);
      expect(fixed.lastReload).toMatchObject({ added: ['bad'], removed: ['dicom'] });
      await rm(file);
      await listingWhere((l) => channelIds(l).join() === 'dicom', 'the built-in channel back');
    });

    it('reloads on demand through the admin API, audited', async () => {
      const response = await t.hub.app.inject({
        method: 'POST',
        url: '/admin/dicom/channels/reload',
        headers: t.auth,
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({
        trigger: 'manual',
        added: [],
        updated: [],
        removed: [],
        channels: [{ id: 'dicom' }],
        lastReload: { trigger: 'manual' },
      });
      await eventually(async () => {
        const audit = await api().call<{ events: { query: string | null }[] }>('/admin/audit?limit=50');
        return audit.events.some((e) => e.query?.startsWith('DICOM channels reloaded:'));
      }, 'the reload in the audit trail');
    });
  });
}
