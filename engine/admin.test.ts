// The admin API beyond single messages: a time-range replay after fixing a mapping (a job), the message store's
// days and pruning (space freed), and who may do what.
import type { Hl7Message } from '../adapters/hl7v2/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mapper } from '../mappings/mapper.js';
import { MllpClient } from '../mllp/index.js';
import { staticRegistry } from './mapper-registry.js';
import { adt, eventually, openChannelHub, readAckText, testMapper, type ChannelTestHub } from './test-support.js';

let fixed = false;
/** A mapping with a bug (it refuses every A08) until `fixed` — what an integrator corrects before a replay. */
const fixable: Mapper<Hl7Message> = {
  id: 'test/fixable',
  map(message, context) {
    if (!fixed && message.header.messageType.triggerEvent === 'A08') {
      return {
        bundle: { resourceType: 'Bundle', type: 'transaction', entry: [] },
        issues: [{ severity: 'error', code: 'NOT_YET', message: 'A08 is not mapped yet.', location: 'MSH-9.2' }],
      };
    }
    return testMapper.map(message, context);
  },
};

describe('admin API: replay by time range, message store, access', () => {
  let hub: ChannelTestHub;
  let client: MllpClient;

  beforeAll(async () => {
    hub = await openChannelHub(
      'embedded',
      {
        updates:
          'source:\n  type: mllp\n  host: 127.0.0.1\n  port: 0\nmapping: test/fixable\ndestinations:\n  - type: store\n',
      },
      { mappers: staticRegistry([fixable]) },
    );
    client = new MllpClient({ host: '127.0.0.1', port: hub.channels.engine!.listenerPort('updates')! });
  });
  afterAll(async () => {
    await client?.close();
    await hub?.close();
  });

  const call = async (
    method: 'GET' | 'POST',
    url: string,
    payload?: object,
    headers: Record<string, string> = hub.auth,
  ) => {
    const response = await hub.hub.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  };

  it('replays a time range of failed messages once the mapping is fixed, as a job', async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 4; i++) {
      const message = adt(`UPD-${i}`, `PU-${i}`).replace('ADT^A01^ADT_A01', 'ADT^A08^ADT_A01');
      expect(readAckText(await client.send(message)).code).toBe('AE');
    }
    expect(readAckText(await client.send(adt('ADM-1', 'PU-9'))).code).toBe('AA');
    const to = new Date(Date.now() + 1000).toISOString();
    fixed = true;

    const refused = await call('POST', '/admin/messages/replay', { query: { channel: 'updates', from: '2026-01-01' } });
    expect(refused.status).toBe(400);
    expect((refused.body.error as { message: string }).message).toContain('time range');

    const started = await call('POST', '/admin/messages/replay', {
      query: { channel: 'updates', from, to, status: 'error' },
    });
    expect(started.status).toBe(202);
    const job = await eventually(async () => {
      const j = await call('GET', `/admin/replay-jobs/${String(started.body.id)}`);
      return j.body.state === 'done' ? j.body : undefined;
    }, 'the replay job done');
    expect(job).toMatchObject({ replayed: 4, failed: 0 });
    const page = await hub.channels.messages!.search({ channel: 'updates', limit: 100 });
    expect(page.messages.map((m) => m.status)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    expect(
      page.messages
        .filter((m) => m.revision === 1)
        .map((m) => m.controlId)
        .sort(),
    ).toEqual(['UPD-0', 'UPD-1', 'UPD-2', 'UPD-3']);
    expect((await call('GET', '/admin/replay-jobs/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('lists the days it keeps and prunes the old ones, freeing their space', async () => {
    const old = new Date(Date.now() - 45 * 86_400_000);
    for (let i = 0; i < 50; i++) {
      await hub.channels.messages!.receive({
        channel: 'updates',
        raw: Buffer.from(adt(`OLD-${i}`, 'P-OLD')),
        receivedAt: old,
        source: 'test',
      });
    }
    const before = await call('GET', '/admin/message-store');
    const day = old.toISOString().slice(0, 10).replace(/-/g, '');
    const oldDay = (before.body.days as { day: string; messages: number; bytes: number }[]).find((d) => d.day === day)!;
    expect(oldDay.messages).toBe(50);
    expect(before.body.retentionDays).toBe(30);
    const pruned = await call('POST', '/admin/message-store/prune', { olderThanDays: 30 });
    expect(pruned.status).toBe(200);
    expect(pruned.body.days).toContain(day);
    expect(pruned.body.messages).toBe(50);
    expect(pruned.body.bytes).toBeGreaterThanOrEqual(oldDay.bytes);
    const after = await call('GET', '/admin/message-store');
    expect((after.body.days as { day: string }[]).some((d) => d.day === day)).toBe(false);
    expect((await hub.channels.messages!.search({ controlId: 'OLD-1' })).messages).toEqual([]);
    expect((await call('POST', '/admin/message-store/prune', { olderThanDays: 0 })).status).toBe(400);
  });

  it('requires a token, and the admin role for messages (patient data) and changes', async () => {
    expect((await call('GET', '/admin/messages', undefined, {})).status).toBe(401);
    const reader = await hub.hub.context.tokens.create('console viewer', ['read']);
    const asReader = { authorization: `Bearer ${reader.token}` };
    expect((await call('GET', '/admin/channels', undefined, asReader)).status).toBe(200);
    const forbidden = await call('GET', '/admin/messages', undefined, asReader);
    expect(forbidden.status).toBe(403);
    expect((forbidden.body.error as { message: string }).message).toContain('admin');
    expect((await call('POST', '/admin/channels/updates/stop', {}, asReader)).status).toBe(403);
    expect((await call('GET', '/admin/messages/not-an-id')).status).toBe(404);
    expect((await call('GET', '/admin/messages?from=yesterday')).status).toBe(400);
  });
});
