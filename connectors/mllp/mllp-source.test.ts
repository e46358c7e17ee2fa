// The MLLP source on a real (embedded) hub: what a sender gets back for good, duplicate, malformed, oversized,
// wrongly encoded, unmapped, low-quality and filtered messages, in original and enhanced acknowledgment mode —
// and what the message store keeps of each. The process stays up throughout.
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient } from '../../mllp/index.js';
import { connectRaw, frame } from '../../mllp/test-support.js';
import {
  adt,
  eventually,
  openChannelHub,
  oru,
  readAckText,
  TEST_PATIENT_SYSTEM,
  type ChannelTestHub,
} from '../../engine/test-support.js';

const CHANNEL = `source:
  type: mllp
  host: 127.0.0.1
  port: 0
  maxMessageBytes: 4096
filters:
  - field: MSH-9.1
    in: [ADT, ORU]
mapping: test/patient
destinations:
  - type: store
`;

describe('MLLP source (embedded hub)', () => {
  let hub: ChannelTestHub;
  let client: MllpClient;
  let port: number;

  beforeAll(async () => {
    hub = await openChannelHub('embedded', { inbound: CHANNEL });
    port = hub.channels.engine!.listenerPort('inbound')!;
    client = new MllpClient({ host: '127.0.0.1', port, ackTimeoutMs: 20_000 });
  });
  afterAll(async () => {
    await client?.close();
    await hub?.close();
  });

  const inject = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const response = await hub.hub.app.inject({
      method,
      url,
      headers: hub.auth,
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  };
  const messageByControlId = async (controlId: string) => {
    const page = await hub.channels.messages!.search({ controlId });
    return page.messages;
  };
  const patient = async (id: string): Promise<Patient[]> => {
    const bundle = (await inject('GET', `/fhir/Patient?identifier=${TEST_PATIENT_SYSTEM}|${id}`))
      .body as unknown as Bundle;
    return (bundle.entry ?? []).map((e) => e.resource as Patient);
  };

  it('acknowledges a good message AA once its change set is durable, and the record has it', async () => {
    const ack = readAckText(await client.send(adt('GOOD-1', 'PAT-1', { family: 'DURAND' })));
    expect(ack).toEqual({ code: 'AA', controlId: 'GOOD-1', err: [] });
    const [stored] = await messageByControlId('GOOD-1');
    expect(stored).toMatchObject({ status: 'sent', ackCode: 'AA', messageType: 'ADT^A01', sender: 'ADT^CH-TEST' });
    const patients = await eventually(
      async () => ((await patient('PAT-1')).length === 1 ? patient('PAT-1') : undefined),
      'the patient in the store',
    );
    expect(patients[0]!.name?.[0]?.family).toBe('DURAND');
  });

  it('answers a duplicate with the first ACK, without storing or applying it twice', async () => {
    const message = adt('DUP-1', 'PAT-DUP');
    expect(readAckText(await client.send(message)).code).toBe('AA');
    await eventually(async () => (await patient('PAT-DUP')).length === 1, 'the patient');
    expect(readAckText(await client.send(message))).toEqual({ code: 'AA', controlId: 'DUP-1', err: [] });
    const rows = await messageByControlId('DUP-1');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.duplicates).toBe(1);
    const [p] = await patient('PAT-DUP');
    expect(p!.meta?.versionId).toBe('1');
  });

  it('refuses garbage with AR and an ERR saying why, and keeps it in the error state', async () => {
    const ack = readAckText(await client.send('this is not HL7'));
    expect(ack.code).toBe('AR');
    expect(ack.err[0]).toMatch(/^ERR\|\|\|100\^Segment sequence error\^HL70357\|E/);
    expect(ack.err[0]).toContain('the input must start with MSH');
    const errors = await hub.channels.messages!.search({ channel: 'inbound', status: ['error'], errorStage: 'decode' });
    const raws = await Promise.all(errors.messages.map((m) => hub.channels.messages!.raw(m.id)));
    expect(raws.map((r) => r.toString())).toContain('this is not HL7');
  });

  it('refuses a truncated header with AR 101 at MSH-9, and a message without a control id', async () => {
    const ack = readAckText(await client.send('MSH|^~\\&|LAB|CH|||2026'));
    expect(ack.code).toBe('AR');
    expect(ack.err[0]).toMatch(/^ERR\|\|MSH\^1\^9\^1\^1\|101\^Required field missing\^HL70357/);
    const noControlId = readAckText(await client.send(adt('', 'PAT-1')));
    expect(noControlId.code).toBe('AR');
    expect(noControlId.err[0]).toContain('MSH^1^10');
  });

  it('puts a message whose change set the store refuses in the error state', async () => {
    // A conditional reference to a patient that does not exist: the projector refuses the whole change set.
    expect(readAckText(await client.send(oru('ORPHAN-1', 'PAT-ORPHAN', ['ORPHAN']))).code).toBe('AA');
    const [row] = await messageByControlId('ORPHAN-1');
    const detail = await eventually(async () => {
      const d = await hub.channels.messages!.get(row!.id);
      return d.status === 'error' ? d : undefined;
    }, 'the refused change set recorded');
    expect(detail.errorStage).toBe('apply');
    expect(detail.errors[0]!.message).toContain('The store refused the change set');
  });

  it('refuses a message larger than the channel accepts with AR (104 value too long) and records it', async () => {
    const big = adt('BIG-1', 'PAT-BIG') + `NTE|1||${'x'.repeat(8000)}\r`;
    const ack = readAckText(await client.send(big));
    expect(ack.code).toBe('AR');
    expect(ack.controlId).toBe('BIG-1');
    expect(ack.err[0]).toContain('104^Value too long^HL70357');
    const [row] = await messageByControlId('BIG-1');
    expect(row).toMatchObject({ status: 'error', errorStage: 'receive' });
    // The connection is still usable.
    expect(readAckText(await client.send(adt('AFTER-BIG', 'PAT-1'))).code).toBe('AA');
  });

  it('refuses bytes that contradict the declared charset (MSH-18 UTF-8, Latin-1 é) and keeps the exact bytes', async () => {
    const text = adt('CHARSET-1', 'PAT-CS')
      .replace('|2.5\r', '|2.5||||||UNICODE UTF-8\r')
      .replace('DUPONT', 'H\u00e9LENE');
    const bytes = Buffer.from(text, 'latin1');
    const ack = readAckText(await client.send(bytes));
    expect(ack.code).toBe('AR');
    expect(ack.err[0]).toContain('102^Data type error^HL70357');
    const [row] = await messageByControlId('CHARSET-1');
    expect(row).toMatchObject({ status: 'error', errorStage: 'decode' });
    expect((await hub.channels.messages!.raw(row!.id)).equals(bytes)).toBe(true);
  });

  it('answers a mapping error with AE: ERR-2 locates it, ERR-5 names the rule; the message waits in the error state', async () => {
    const ack = readAckText(await client.send(adt('MAP-1', '')));
    expect(ack.code).toBe('AE');
    const err = ack.err[0]!.split('|');
    expect(err[2]).toBe('PID^1^3^1^1');
    expect(err[5]).toBe('test-pid-required^PATIENT_ID_MISSING^KENEY');
    expect(err[8]).toBe('PID-3 has no identifier value.');
    const [row] = await messageByControlId('MAP-1');
    expect(row).toMatchObject({ status: 'error', errorStage: 'map', ackCode: 'AE' });
  });

  it('answers a quality rejection with AE naming the rule, and applies nothing', async () => {
    const ack = readAckText(await client.send(oru('QUAL-1', 'PAT-Q', ['4.5', 'QUALITY-REJECT'])));
    expect(ack.code).toBe('AE');
    expect(ack.err[0]).toContain('test-quality-value^QUALITY_VALUE^KENEY');
    const [row] = await messageByControlId('QUAL-1');
    expect(row).toMatchObject({ status: 'error', errorStage: 'quality' });
    expect(await patient('PAT-Q')).toEqual([]);
  });

  it('keeps warnings with an accepted message', async () => {
    expect(readAckText(await client.send(adt('WARN-1', 'PAT-W', { birth: '' }))).code).toBe('AA');
    const [row] = await messageByControlId('WARN-1');
    const detail = await hub.channels.messages!.get(row!.id);
    expect(detail.warnings).toEqual([
      expect.objectContaining({ code: 'BIRTH_DATE_MISSING', severity: 'warning', location: 'PID-7' }),
    ]);
  });

  it('acknowledges a filtered message AA and keeps it as filtered with the reason', async () => {
    const siu = adt('FILT-1', 'PAT-F').replace('ADT^A01^ADT_A01', 'SIU^S12^SIU_S12');
    expect(readAckText(await client.send(siu)).code).toBe('AA');
    const [row] = await messageByControlId('FILT-1');
    expect(row!.status).toBe('filtered');
    expect((await hub.channels.messages!.get(row!.id)).warnings[0]!.message).toBe(
      'MSH-9.1 is "SIU"; it must be one of ADT, ORU',
    );
    expect(await patient('PAT-F')).toEqual([]);
  });

  it('enhanced mode: CA as soon as the message is kept, then AA once it is durable', async () => {
    const peer = await connectRaw(port);
    try {
      peer.socket.write(frame(adt('ENH-1', 'PAT-E', { msh15: 'AL', msh16: 'AL' })));
      expect(readAckText(await peer.nextFrame())).toEqual({ code: 'CA', controlId: 'ENH-1', err: [] });
      expect(readAckText(await peer.nextFrame())).toEqual({ code: 'AA', controlId: 'ENH-1', err: [] });
      // MSH-15 NE, MSH-16 ER: nothing for a success…
      peer.socket.write(frame(adt('ENH-2', 'PAT-E', { msh15: 'NE', msh16: 'ER' })));
      // …but an AE for an error; the next frame received is therefore the answer to ENH-3.
      peer.socket.write(frame(adt('ENH-3', '', { msh15: 'NE', msh16: 'ER' })));
      expect(readAckText(await peer.nextFrame())).toMatchObject({ code: 'AE', controlId: 'ENH-3' });
      expect(peer.frames).toHaveLength(3);
      expect((await messageByControlId('ENH-2'))[0]!.status).toBe('sent');
    } finally {
      peer.socket.destroy();
    }
  });

  it('answers an empty frame with AR and keeps the connection', async () => {
    const peer = await connectRaw(port);
    try {
      peer.socket.write(Buffer.from([0x0b, 0x1c, 0x0d]));
      expect(readAckText(await peer.nextFrame()).code).toBe('AR');
      peer.socket.write(frame(adt('AFTER-EMPTY', 'PAT-1')));
      expect(readAckText(await peer.nextFrame()).code).toBe('AA');
    } finally {
      peer.socket.destroy();
    }
  });

  it('shows one message with its raw bytes, segments, change set, produced resources and lineage', async () => {
    await client.send(oru('DETAIL-1', 'PAT-D', ['7.1']));
    const [row] = await messageByControlId('DETAIL-1');
    const { status, body } = await eventually(async () => {
      const r = await inject('GET', `/admin/messages/${row!.id}`);
      return (r.body.resources as unknown[]).length >= 2 ? r : undefined;
    }, 'the produced resources');
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: row!.id, status: 'sent', controlId: 'DETAIL-1', store: { state: 'applied' } });
    expect(String(body.raw)).toContain('OBX|1|NM|GLU^Glucose||7.1');
    expect((body.decoded as { segments: { name: string }[] }).segments.map((s) => s.name)).toEqual([
      'MSH',
      'PID',
      'OBR',
      'OBX',
    ]);
    expect((body.changeSet as Bundle).entry?.map((e) => e.resource?.resourceType)).toEqual(['Patient', 'Observation']);
    const references = (body.resources as { reference: string }[]).map((r) => r.reference.split('/')[0]).sort();
    expect(references).toEqual(['Observation', 'Patient']);
    const raw = await hub.hub.app.inject({ method: 'GET', url: `/admin/messages/${row!.id}/raw`, headers: hub.auth });
    expect(raw.headers['content-type']).toContain('hl7-v2');
    expect(raw.rawPayload.equals(await hub.channels.messages!.raw(row!.id))).toBe(true);
  });

  it('finds messages by patient identifier, type, text and status through the admin API, page by page', async () => {
    for (let i = 0; i < 3; i++) await client.send(adt(`SEARCH-${i}`, 'PAT-SEARCH', { family: 'ZYGOMAR' }));
    const byPatient = await inject('GET', '/admin/messages?patient=CH-TEST|PAT-SEARCH&limit=2');
    expect((byPatient.body.messages as unknown[]).length).toBe(2);
    const next = await inject(
      'GET',
      `/admin/messages?patient=CH-TEST|PAT-SEARCH&limit=2&cursor=${String(byPatient.body.next)}`,
    );
    expect((next.body.messages as { controlId: string }[]).map((m) => m.controlId)).toEqual(['SEARCH-0']);
    expect(next.body.next).toBeUndefined();
    const byText = await inject('GET', '/admin/messages?text=zygomar&type=ADT^A01&status=sent');
    expect((byText.body.messages as unknown[]).length).toBe(3);
    const bad = await inject('GET', '/admin/messages?status=lost');
    expect(bad.status).toBe(400);
    expect((bad.body.error as { message: string }).message).toContain('use received, filtered, queued, sent, error');
  });

  it('replays a message (a new change set, converging on the same resources) and edit-then-replays one (audited, original kept)', async () => {
    await client.send(adt('EDIT-1', ''));
    const [original] = await messageByControlId('EDIT-1');
    expect(original!.status).toBe('error');
    const raw = (await hub.channels.messages!.raw(original!.id)).toString();
    const edited = await inject('POST', `/admin/messages/${original!.id}/edit`, {
      message: raw.replace('PID|||^^^CH-TEST^PI', 'PID|||PAT-EDIT^^^CH-TEST^PI'),
      reason: 'PID-3 was empty (ticket 42)',
    });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ original: original!.id, outcome: { ack: 'AA', status: 'sent' } });
    const kept = await hub.channels.messages!.get(original!.id);
    expect(kept.status).toBe('error');
    expect(kept.edits).toEqual([edited.body.edited]);
    expect((await hub.channels.messages!.get(String(edited.body.edited))).editNote).toMatchObject({
      reason: 'PID-3 was empty (ticket 42)',
    });
    await eventually(async () => (await patient('PAT-EDIT')).length === 1, 'the edited patient');
    await hub.hub.context.audit.flush();
    const audit = await inject('GET', `/admin/audit?resourceId=${original!.id}`);
    expect(
      (audit.body.events as { query: string }[]).some(
        (e) => e.query.includes('edited and replayed') && e.query.includes('ticket 42'),
      ),
    ).toBe(true);

    expect(readAckText(await client.send(adt('REPLAY-1', 'PAT-REPLAY'))).code).toBe('AA');
    const [good] = await messageByControlId('REPLAY-1');
    const before = await hub.channels.messages!.get(good!.id);
    const replay = await inject('POST', `/admin/messages/${good!.id}/replay`, {});
    expect(replay.body).toMatchObject({ replayed: 'all', outcome: { ack: 'AA', status: 'sent' } });
    const after = await hub.channels.messages!.get(good!.id);
    expect(after.revision).toBe(before.revision + 1);
    expect(after.changeSetId).not.toBe(before.changeSetId);
    const outcome = await eventually(
      async () => (await hub.hub.context.store.outcomes.fetch([after.changeSetId!]))[0],
      'the replayed change set applied',
    );
    expect(outcome.status).toBe('applied');
    // The same content again: the same patient, no new version.
    const patients = await patient('PAT-REPLAY');
    expect(patients).toHaveLength(1);
    expect(patients[0]!.meta?.versionId).toBe('1');
  });

  it('tests a message against a channel without storing anything (mapping test bench)', async () => {
    const count = (await hub.channels.messages!.search({ channel: 'inbound', limit: 1000 })).messages.length;
    const result = await inject('POST', '/admin/channels/inbound/test', {
      message: oru('BENCH-1', 'PAT-B', ['1', 'QUALITY-REJECT']),
    });
    expect(result.body).toMatchObject({ ackCode: 'AE', status: 'error' });
    expect((result.body.issues as { rule: string }[])[0]!.rule).toBe('test-quality-value');
    expect(String(result.body.acknowledgment)).toContain('MSA|AE|BENCH-1');
    expect((await hub.channels.messages!.search({ channel: 'inbound', limit: 1000 })).messages.length).toBe(count);
    const draft = await inject('POST', '/admin/channels/test', {
      channel: CHANNEL.replace('in: [ADT, ORU]', 'in: [ORU]'),
      message: adt('BENCH-2', 'P'),
    });
    expect(draft.body).toMatchObject({ status: 'filtered', ackCode: 'AA' });
    const broken = await inject('POST', '/admin/channels/test', {
      channel: 'source: {type: mllp}\n',
      message: adt('BENCH-3', 'P'),
    });
    expect(broken.status).toBe(422);
    expect(broken.body.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'source', line: 1 })]));
  });

  it('counts what it received, on /metrics and in the channel view', async () => {
    const view = (await inject('GET', '/admin/channels/inbound')).body as {
      stats: { total: Record<string, number> };
      state: string;
    };
    expect(view.state).toBe('started');
    expect(view.stats.total.received).toBeGreaterThan(10);
    expect(view.stats.total.duplicate).toBeGreaterThanOrEqual(1);
    expect(view.stats.total.filtered).toBeGreaterThanOrEqual(1);
    expect(view.stats.total.errored).toBeGreaterThanOrEqual(5);
    const metrics = await hub.hub.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/keney_channel_messages_total\{channel="inbound",outcome="accepted"\} \d+/);
  });
});
