// Acceptance 4 over MLLP: with the real mappings and quality rules behind a channel like the default inbound one,
// each rule's failing fixture gets AE with the rule's name in ERR and stays in the error state; the passing one AA.
// Warnings (patient-identifier, plausible-range) do not reject: AA, stored with the resource.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adaptRegistry } from '../engine/mapper-registry.js';
import { openChannelHub, readAckText, type ChannelTestHub } from '../engine/test-support.js';
import { MllpClient } from '../mllp/index.js';
import { createMapperRegistry } from './index.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'mappings', 'quality');
const REJECTING = ['observation-effective', 'observation-quantity-ucum', 'allergy-verification-status', 'ins-key'];
const WARNING = ['patient-identifier', 'plausible-range'];

const CHANNEL = `source:
  type: mllp
  host: 127.0.0.1
  port: 0
mapping: hl7v2/default
quality: true
destinations:
  - type: store
`;

describe('quality rules over MLLP (embedded hub, real mappings)', () => {
  let hub: ChannelTestHub;
  let client: MllpClient;
  beforeAll(async () => {
    hub = await openChannelHub('embedded', { quality: CHANNEL }, { mappers: adaptRegistry(createMapperRegistry()) });
    client = new MllpClient({ host: '127.0.0.1', port: hub.channels.engine!.listenerPort('quality')!, ackTimeoutMs: 30_000 });
  });
  afterAll(async () => {
    await client?.close();
    await hub?.close();
  });

  const send = async (file: string) => readAckText(await client.send(readFileSync(join(DIR, file))));
  const statusOf = async (controlId: string) => (await hub.channels.messages!.search({ controlId })).messages[0]?.status;
  const controlIdOf = (file: string) => readFileSync(join(DIR, file), 'latin1').split('\r')[0]!.split('|')[9]!;

  for (const rule of REJECTING) {
    it(`${rule}: AE naming the rule in ERR, message in error; its passing twin AA`, async () => {
      const failing = await send(`${rule}-fail.hl7`);
      expect(failing.code).toBe('AE');
      expect(failing.err.join('\n')).toContain(rule);
      expect(await statusOf(controlIdOf(`${rule}-fail.hl7`))).toBe('error');
      const passing = await send(`${rule}-pass.hl7`);
      expect(passing.code, passing.err.join('\n')).toBe('AA');
    });
  }

  for (const rule of WARNING) {
    it(`${rule}: a warning, not a rejection (AA)`, async () => {
      const ack = await send(`${rule}-fail.hl7`);
      expect(ack.code, ack.err.join('\n')).toBe('AA');
      expect(await statusOf(controlIdOf(`${rule}-fail.hl7`))).not.toBe('error');
    });
  }
});
