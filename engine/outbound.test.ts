// Outbound channels: a change applied to the store (here through the FHIR API) feeds a subscription source; the
// resource (with what it references) is encoded to HL7 v2 and delivered by an MLLP destination whose ACK is checked.
import type { Patient } from '@medplum/fhirtypes';
import type { Hl7Message } from '@medplum/core';
import { Hl7Server } from '@medplum/hl7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../mllp/test-support.js';
import { eventually, openChannelHub, TEST_PATIENT_SYSTEM, type ChannelTestHub } from './test-support.js';

describe('outbound channel: applied changes → HL7 v2 → MLLP', () => {
  let hub: ChannelTestHub;
  let server: Hl7Server;
  const received: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    server = new Hl7Server((connection) => {
      connection.addEventListener('message', ({ message }: { message: Hl7Message }) => {
        received.push(message.toString());
        const pid = message.getSegment('PID')?.getField(3)?.toString() ?? '';
        connection.send(message.buildAck({ ackCode: pid.startsWith('REFUSE') ? 'AR' : 'AA' }));
      });
    });
    server.start(port);
    await new Promise<void>((resolve) =>
      server.server!.listening ? resolve() : server.server!.once('listening', () => resolve()),
    );
    hub = await openChannelHub('embedded', {
      'adt-feed': `source:
  type: subscription
  resourceType: Patient
  criteria: active=true
encoder: test/adt
destinations:
  - type: mllp
    name: downstream
    host: 127.0.0.1
    port: ${port}
    retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 }
`,
    });
  });
  afterAll(async () => {
    await hub?.close();
    await server?.stop({ forceDrainTimeoutMs: 100 });
  });

  const createPatient = async (id: string, active: boolean) => {
    const patient: Patient = {
      resourceType: 'Patient',
      active,
      identifier: [{ system: TEST_PATIENT_SYSTEM, value: id }],
      name: [{ family: `Family-${id}` }],
    };
    const response = await hub.hub.app.inject({
      method: 'POST',
      url: '/fhir/Patient',
      headers: { ...hub.auth, 'content-type': 'application/fhir+json' },
      payload: patient,
    });
    expect(response.statusCode).toBe(201);
  };

  it('sends each applied Patient that matches the criteria, once, and records the ACK', async () => {
    await createPatient('OUT-1', true);
    await createPatient('OUT-2', false);
    await createPatient('OUT-3', true);
    await eventually(() => received.length >= 2, 'the encoded messages delivered');
    expect(received.map((m) => /PID\|\|\|([^^|]+)/.exec(m)?.[1])).toEqual(['OUT-1', 'OUT-3']);
    const messages = await eventually(async () => {
      const page = await hub.channels.messages!.search({ channel: 'adt-feed', ascending: true });
      return page.messages.length === 2 && page.messages.every((m) => m.status === 'sent') ? page.messages : undefined;
    }, 'the outbound messages sent');
    expect(messages.map((m) => m.messageType)).toEqual(['ADT^A08', 'ADT^A08']);
    const detail = await hub.channels.messages!.get(messages[0]!.id);
    expect(detail.source).toMatch(/^subscription [0-9a-f-]{36} Patient\//);
    expect(detail.deliveries[0]!.response).toContain('MSA|AA|');
    // Nothing more arrives for the inactive patient.
    await new Promise((r) => setTimeout(r, 500));
    expect(received).toHaveLength(2);
  });

  it('dead-letters a message the downstream system refuses (AR), visibly', async () => {
    await createPatient('REFUSE-1', true);
    const refused = await eventually(async () => {
      const page = await hub.channels.messages!.search({ channel: 'adt-feed', status: ['error'] });
      return page.messages[0] ? hub.channels.messages!.get(page.messages[0].id) : undefined;
    }, 'the refused message');
    expect(refused.deliveries[0]).toMatchObject({ status: 'dead', attempts: 1 });
    expect(refused.deliveries[0]!.lastError).toContain('AR');
  });

  it('keeps its position: after a restart of the channel, nothing is sent twice and new changes flow', async () => {
    const before = received.length;
    await hub.channels.engine!.setState('adt-feed', 'stopped', 'test');
    await createPatient('OUT-4', true);
    await hub.channels.engine!.setState('adt-feed', 'started', 'test');
    await eventually(() => received.length === before + 1, 'the change made while stopped');
    expect(/PID\|\|\|([^^|]+)/.exec(received.at(-1)!)?.[1]).toBe('OUT-4');
    await new Promise((r) => setTimeout(r, 500));
    expect(received).toHaveLength(before + 1);
  });
});
