// The swap of DICOM channels at a reload, pinned: an instance whose routing began before the swap finishes under
// the old channels (one message each, none in a channel the reload added), an instance after it goes through the
// new ones, and the reload waits for the first before it retires anything. The record is held open with a gate
// (a recorder that waits), everything else is real: the archive, the message store on PGlite.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelStats } from '../../../engine/channel-stats.js';
import { engineMigrations, MessageStore } from '../../../engine/message-store.js';
import { FsBlobStore } from '../../../store/blob/fs-blob-store.js';
import { projectionMigrations } from '../../../store/projection/schema.js';
import { migrate } from '../../../store/sql/migrate.js';
import type { InstanceStoredEvent } from '../dicom-service.js';
import type { RecordResult, StudyRecorder } from '../record/study-recorder.js';
import { syntheticStudy } from '../record/test-support.js';
import { openTestDicom, type TestDicom } from '../test-support.js';
import { parseDicomChannel } from './config.js';
import { DicomChannels } from './router.js';

const channel = (id: string, modalities: string) =>
  parseDicomChannel(
    `source: { type: dicom }\nfilters: [{ field: Modality, in: [${modalities}] }]\ndestinations: [{ type: store }]\n`,
    `/channels/dicom/${id}.channel.yaml`,
    {},
  );

describe('DICOM channels swapped by a reload', () => {
  let dicom: TestDicom;
  let messages: MessageStore;
  let router: DicomChannels;
  const held = new Map<string, () => void>();
  const recorded: string[] = [];

  beforeAll(async () => {
    dicom = await openTestDicom();
    // The message store checks the projector's table for refused change sets.
    await migrate(dicom.sql, [...projectionMigrations, ...engineMigrations]);
    messages = new MessageStore(dicom.sql, new FsBlobStore(dicom.blobDir), { inlineRawLimit: 0 });
    await messages.ensurePartitions();
    // The record of an instance listed in `held` waits until the test releases it.
    const recorder = {
      record: async (event: InstanceStoredEvent, context: { channel?: string; changeSetId?: string }) => {
        const uid = event.identity.sopInstanceUid;
        if (held.has(`${uid}?`)) await new Promise<void>((release) => held.set(uid, release));
        recorded.push(`${context.channel}:${uid}`);
        return { changeSetId: context.changeSetId!, applied: true, issues: [] } as unknown as RecordResult;
      },
    } as unknown as StudyRecorder;
    router = new DicomChannels([channel('ct', 'CT')], {
      messages,
      recorder,
      archive: dicom.service,
      stats: new ChannelStats(),
      logger: pino({ level: 'silent' }),
      aeTitle: 'KENEY',
    });
    await router.start();
  });
  afterAll(async () => {
    await router?.stop();
    await dicom?.close();
  });

  const event = async (file: Buffer): Promise<InstanceStoredEvent> =>
    ({
      ...(await dicom.service.store.store({ file, source: { protocol: 'dimse', callingAeTitle: 'CT1' } })),
    }) as InstanceStoredEvent;
  const statuses = async (uid: string) =>
    (await messages.search({ controlId: uid })).messages.map((m) => `${m.channel}:${m.status}`).sort();

  it('routes an instance in flight by the old channels and the next one by the new, each once', async () => {
    const [ct1, mr1] = syntheticStudy(2, 1, { patientId: 'IPP-SWAP', issuer: 'CH-TEST' });
    const first = await event(ct1!.file);
    held.set(`${ct1!.sopInstanceUid}?`, () => undefined);
    const routing = router.route(first);
    // The first instance is inside its record when the reload comes.
    for (;;) {
      if (held.has(ct1!.sopInstanceUid)) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    let reloaded = false;
    const reload = router.apply([channel('ct', 'CT, MR'), channel('mr', 'MR')]).then((changes) => {
      reloaded = true;
      return changes;
    });
    // The new set routes at once: the next instance goes through both new channels.
    expect(router.ids().sort()).toEqual(['ct', 'mr']);
    const second = await router.route(await event(mr1!.file));
    expect(second.map((r) => `${r.channel}:${r.status}`).sort()).toEqual(['ct:sent', 'mr:sent']);
    // The reload is still waiting for the instance in flight.
    expect(reloaded).toBe(false);

    held.get(ct1!.sopInstanceUid)!();
    const results = await routing;
    expect(results.map((r) => `${r.channel}:${r.status}`)).toEqual(['ct:sent']);
    expect(await reload).toEqual({ added: ['mr'], updated: ['ct'], removed: [] });
    expect(await statuses(ct1!.sopInstanceUid)).toEqual(['ct:sent']);
    expect(await statuses(mr1!.sopInstanceUid)).toEqual(['ct:sent', 'mr:sent']);
    expect(recorded.filter((r) => r.endsWith(ct1!.sopInstanceUid))).toEqual([`ct:${ct1!.sopInstanceUid}`]);
  });
});
