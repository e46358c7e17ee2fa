// The console replays from one place: the engine's generic replay routes hand a DICOM message (a channel the
// DICOM module runs) to the DICOM module's replay, and answer a 409 naming the DICOM route when that module is not
// running in the hub. Embedded profile; the instance arrives by STOW-RS.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomModule } from '../connectors/dicom/hub/dicom-module.js';
import { buildMultipart } from '../connectors/dicom/dicomweb/multipart.js';
import { syntheticStudy } from '../connectors/dicom/record/test-support.js';
import { openTestHub, type TestHub } from '../test/hub-harness.js';
import { staticRegistry } from './mapper-registry.js';
import { channelsModule, type ChannelsModule } from './module.js';
import { eventually } from './test-support.js';

interface Answer {
  status: number;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function call(t: TestHub, method: 'GET' | 'POST', url: string, payload?: object): Promise<Answer> {
  const response = await t.hub.app.inject({ method, url, headers: t.auth, ...(payload ? { payload } : {}) });
  return { status: response.statusCode, body: JSON.parse(response.body) };
}

describe('replaying a DICOM message through /admin/messages', () => {
  let work: string;
  let t: TestHub;
  let messageId: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'keney-module-replay-'));
    const channels = channelsModule({
      channelsDir: join(work, 'none'),
      mappers: staticRegistry([]),
      env: {},
      watch: false,
    });
    const dicom = dicomModule({ port: 0, host: '127.0.0.1', dimse: false, channels, channelsDir: join(work, 'none') });
    t = await openTestHub('embedded', { modules: [channels, dicom] });
    const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-REPLAY', issuer: 'CH-TEST' });
    const { body, boundary } = buildMultipart([{ contentType: 'application/dicom', body: instance!.file }]);
    const stow = await t.hub.app.inject({
      method: 'POST',
      url: '/dicomweb/studies',
      headers: { ...t.auth, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
      payload: body,
    });
    expect(stow.statusCode, stow.body).toBe(200);
    const found = await call(t, 'GET', '/admin/messages?channel=dicom');
    expect(found.body.messages).toHaveLength(1);
    messageId = found.body.messages[0].id;
    expect(found.body.messages[0]).toMatchObject({ status: 'sent', revision: 0 });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('replays it through the DICOM channel: the message gets its next revision', async () => {
    const replay = await call(t, 'POST', `/admin/messages/${messageId}/replay`, {});
    expect(replay.status, JSON.stringify(replay.body)).toBe(200);
    expect(replay.body).toMatchObject({
      messageId,
      replayed: 'all',
      handledBy: 'DICOM',
      outcome: { status: 'sent' },
    });
    const detail = await call(t, 'GET', `/admin/messages/${messageId}`);
    expect(detail.body).toMatchObject({ status: 'sent', revision: 1 });
  });

  it('replays one destination, several ids and a time range the same way; an unknown destination is a 404', async () => {
    const store = await call(t, 'POST', `/admin/messages/${messageId}/replay`, { destination: 'store' });
    expect(store.body).toMatchObject({ replayed: 'store', handledBy: 'DICOM' });

    const unknown = await call(t, 'POST', `/admin/messages/${messageId}/replay`, { destination: 'nowhere' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'engine.destination-not-found' });
    expect(unknown.body.error.message).toMatch(/no destination "nowhere"; its destinations are store/);

    const several = await call(t, 'POST', '/admin/messages/replay', { ids: [messageId] });
    expect(several.body.results).toEqual([expect.objectContaining({ messageId, handledBy: 'DICOM' })]);

    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const job = await call(t, 'POST', '/admin/messages/replay', { query: { channel: 'dicom', from, to } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const done = await eventually(async () => {
      const state = await call(t, 'GET', `/admin/replay-jobs/${job.body.id}`);
      return state.body.state === 'done' ? state.body : undefined;
    }, 'the replay job');
    expect(done).toMatchObject({ replayed: 1, failed: 0 });
    expect((await call(t, 'GET', `/admin/messages/${messageId}`)).body.revision).toBe(4);
  });

  it('refuses to edit it as text, saying how to replay it instead', async () => {
    const edit = await call(t, 'POST', `/admin/messages/${messageId}/edit`, { message: 'MSH|^~\\&|X', reason: 'test' });
    expect(edit.status).toBe(409);
    expect(edit.body.error.code).toBe('engine.channel-state');
    expect(edit.body.error.message).toContain(`POST /admin/messages/${messageId}/replay`);
  });
});

describe('a DICOM message when the DICOM module is not running', () => {
  let work: string;
  let t: TestHub;
  let channels: ChannelsModule;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'keney-module-replay-'));
    channels = channelsModule({ channelsDir: join(work, 'none'), mappers: staticRegistry([]), env: {}, watch: false });
    t = await openTestHub('embedded', { modules: [channels] });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('answers 409 naming the DICOM replay route, for one message and in a list', async () => {
    // As the DICOM module stored it before the hub was restarted without it.
    const { id } = await channels.messages!.receive({
      channel: 'dicom',
      raw: Buffer.from('not really DICOM'),
      source: 'stow-rs someone@127.0.0.1',
      header: { messageType: 'DICOM^CT', patientIds: [], searchText: 'dicom^ct' },
    });
    const replay = await call(t, 'POST', `/admin/messages/${id}/replay`, {});
    expect(replay.status).toBe(409);
    expect(replay.body.error.code).toBe('engine.channel-state');
    expect(replay.body.error.message).toContain(`POST /admin/dicom/messages/${id}/replay`);
    expect(replay.body.error.message).toMatch(/dicom module .* is not running/);

    const several = await call(t, 'POST', '/admin/messages/replay', { ids: [id] });
    expect(several.body.results[0].error.code).toBe('engine.channel-state');
  });
});
