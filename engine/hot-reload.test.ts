// Hot reload of channel files (the directory is watched): a change applies without dropping connections when
// the listener is the same; a broken file leaves the last good version running and says what is wrong; a new
// port moves the listener; files added and removed start and stop channels.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient } from '../mllp/index.js';
import { freePort } from '../mllp/test-support.js';
import { adt, eventually, openChannelHub, oru, readAckText, type ChannelTestHub } from './test-support.js';

const channel = (port: number | string, types: string) => `source:
  type: mllp
  host: 127.0.0.1
  port: ${port}
filters:
  - field: MSH-9.1
    in: [${types}]
mapping: test/patient
destinations:
  - type: store
`;

describe('hot reload of channel files', () => {
  let hub: ChannelTestHub;
  let client: MllpClient;
  let connects = 0;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    hub = await openChannelHub('embedded', { live: channel(port, 'ADT') }, { watch: true });
    client = new MllpClient({ host: '127.0.0.1', port, ackTimeoutMs: 20_000 });
    client.on('connected', () => connects++);
  });
  afterAll(async () => {
    await client?.close();
    await hub?.close();
  });

  const statusOf = async (controlId: string) =>
    (await hub.channels.messages!.search({ controlId })).messages[0]?.status;

  it('applies a changed filter at once, on the same open connection', async () => {
    expect(readAckText(await client.send(adt('HR-1', 'P1'))).code).toBe('AA');
    expect(await statusOf('HR-1')).toBe('sent');
    await hub.writeChannel('live', channel(port, 'ORU'));
    await eventually(
      () => JSON.stringify(hub.channels.engine!.pipeline('live').config.filters).includes('ORU'),
      'the new filter',
    );
    expect(readAckText(await client.send(adt('HR-2', 'P1'))).code).toBe('AA');
    expect(await statusOf('HR-2')).toBe('filtered');
    expect(readAckText(await client.send(oru('HR-3', 'P1'))).code).toBe('AA');
    expect(await statusOf('HR-3')).toBe('sent');
    expect(connects).toBe(1);
    expect(client.connected).toBe(true);
  });

  it('keeps the last good version running when the file becomes invalid, and says why with the line', async () => {
    await hub.writeChannel(
      'live',
      `${channel(port, 'ORU')}  - type: mllp\n    name: lis\n    host: lis\n    port: not-a-port\n`,
    );
    const view = await eventually(() => {
      const v = hub.channels.engine!.view('live');
      return v.pendingFileError ? v : undefined;
    }, 'the file error reported');
    expect(view.state).toBe('started');
    expect(view.issues[0]).toMatchObject({ file: 'live.channel.yaml', line: 14, path: 'destinations[1].port' });
    expect(view.pendingFileError).toContain('Fix:');
    expect(readAckText(await client.send(oru('HR-4', 'P1'))).code).toBe('AA');
    expect(await statusOf('HR-4')).toBe('sent');
    expect(connects).toBe(1);
  });

  it('moves the listener when the port changes', async () => {
    const next = await freePort();
    await hub.writeChannel('live', channel(next, 'ORU'));
    await eventually(() => hub.channels.engine!.listenerPort('live') === next, 'the new listener');
    expect(hub.channels.engine!.view('live').pendingFileError).toBeNull();
    const moved = new MllpClient({ host: '127.0.0.1', port: next });
    try {
      expect(readAckText(await moved.send(oru('HR-5', 'P1'))).code).toBe('AA');
    } finally {
      await moved.close();
    }
    const old = new MllpClient({ host: '127.0.0.1', port, connectTimeoutMs: 500, reconnect: { maxAttempts: 1 } });
    await expect(old.send(oru('HR-6', 'P1'))).rejects.toMatchObject({ code: 'mllp.connection-refused' });
    await old.close();
  });

  it('starts a channel whose file appears, and stops one whose file is removed', async () => {
    await writeFile(join(hub.channelsDir, 'extra.channel.yaml'), channel(0, 'ADT'));
    await eventually(
      () => hub.channels.engine!.ids().includes('extra') && hub.channels.engine!.view('extra').state === 'started',
      'the new channel started',
    );
    const extraPort = hub.channels.engine!.listenerPort('extra')!;
    const extra = new MllpClient({ host: '127.0.0.1', port: extraPort });
    expect(readAckText(await extra.send(adt('HR-7', 'P7'))).code).toBe('AA');
    await extra.close();
    await rm(join(hub.channelsDir, 'extra.channel.yaml'));
    await eventually(() => !hub.channels.engine!.ids().includes('extra'), 'the channel removed');
    // Its messages stay in the store.
    expect(await statusOf('HR-7')).toBe('sent');
  });

  it('reloads on demand through the admin API and reports what changed', async () => {
    const response = await hub.hub.app.inject({ method: 'POST', url: '/admin/channels/reload', headers: hub.auth });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ added: [], updated: [], removed: [], invalid: [] });
  });
});
