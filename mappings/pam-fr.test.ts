// Acceptance 2 and 3 on synthetic IHE PAM France messages (fixtures/hl7v2-fr): mapped, validated against R4, applied
// in order to a real store (embedded PGlite), then the Patient/Encounter history is what a DIM team expects —
// including a cancelled movement (ZBE-4 CANCEL) and a merge (A40) — and lineage works both ways.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Encounter, MessageHeader, Patient, Provenance } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHl7Message } from '../adapters/hl7v2/index.js';
import { validateForWrite } from '../store/fhir/validate.js';
import { parseSearch } from '../store/search/search-query.js';
import { openTestStore, type TestStore } from '../test/store-harness.js';
import { createMapperRegistry, type KeneyMapperRegistry, type MappingResult } from './index.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'hl7v2-fr');
const IPP = 'urn:oid:1.2.250.1.999.1.1';
const INS_TEST = 'urn:oid:1.2.250.1.213.1.4.10';
const NDA = 'urn:oid:1.2.250.1.999.1.2';
const MVT = 'urn:oid:1.2.250.1.999.1.4';

let registry: KeneyMapperRegistry;
let t: TestStore;
const files = readdirSync(DIR).filter((f) => f.endsWith('.hl7')).sort();
const mapped = new Map<string, { bundle: Bundle; messageId: string }>();

function map(file: string) {
  const raw = readFileSync(join(DIR, file));
  const message = parseHl7Message(raw);
  const messageId = `msg-${file}`;
  const result = registry.get('hl7v2/default')!.map(message, {
    channelId: 'adt-in',
    messageId,
    rawSha256: createHash('sha256').update(raw).digest('hex'),
    receivedAt: '2024-03-05T09:00:00Z',
  }) as MappingResult;
  return { ...result, messageId, controlId: message.header.controlId!, sha: createHash('sha256').update(raw).digest('hex') };
}

async function search<T>(type: string, params: [string, string][]): Promise<T[]> {
  const result = await t.store.search(parseSearch(type, params));
  return result.matches.map((m) => JSON.parse(m.content) as T);
}

describe('IHE PAM France on the store', () => {
  beforeAll(async () => {
    registry = createMapperRegistry();
    t = await openTestStore('pglite');
  });
  afterAll(() => t?.close());

  it('maps every synthetic PAM-FR message without error issues and every resource passes R4 validation', () => {
    for (const file of files) {
      const result = map(file);
      expect(result.issues.filter((i) => i.severity === 'error'), file).toEqual([]);
      for (const entry of result.bundle.entry ?? []) {
        if (entry.resource?.resourceType === 'Parameters') continue;
        expect(() => validateForWrite(entry.resource), `${file} ${entry.resource?.resourceType}`).not.toThrow();
      }
      mapped.set(file, { bundle: result.bundle, messageId: result.messageId });
    }
    expect(mapped.size).toBe(8);
  });

  it('applies the stay in order and gives the expected Patient and Encounter history', async () => {
    for (const file of files.filter((f) => !f.startsWith('07') && !f.startsWith('08'))) {
      const result = map(file);
      const outcome = await t.store.submit({
        bundle: result.bundle,
        origin: { kind: 'channel', channel: 'adt-in', messageId: result.messageId, controlId: result.controlId, sender: 'SIH-TEST^CHU-TEST', rawSha256: result.sha },
      });
      expect(outcome.status, `${file}: ${JSON.stringify(outcome.response).slice(0, 400)}`).toBe('applied');
    }
    const [patient] = await search<Patient>('Patient', [['identifier', `${IPP}|IPP100042`]]);
    expect(patient).toBeDefined();
    expect(patient!.identifier?.find((i) => i.system === INS_TEST)?.value).toBe('280017512345610');
    expect(patient!.identifier?.find((i) => i.system === INS_TEST)?.type?.coding?.[0]?.code).toBe('INS-NIR');
    const reliability = patient!.extension?.find((e) => e.url.endsWith('fr-core-identity-reliability'));
    expect(reliability?.extension?.[0]?.valueCoding?.code).toBe('VALI');
    expect(patient!.name?.[0]?.family).toBe('TESTMARTIN');
    expect(patient!.birthDate).toBe('1980-01-15');

    const [stay] = await search<Encounter>('Encounter', [['identifier', `${NDA}|NDA7001`]]);
    expect(stay!.status).toBe('finished');
    expect(stay!.period?.end).toBe('2024-03-10T11:00:00+01:00');
    expect(stay!.subject?.reference).toBe(`Patient/${patient!.id}`);
    // The stay went planned → in-progress → onleave → in-progress → finished: its history shows the leave.
    const history = await t.store.history({ type: 'Encounter', id: stay!.id!, count: 50, offset: 0 });
    const statuses = history.versions.map((v) => (JSON.parse(v.content) as Encounter).status).reverse();
    expect(statuses).toContain('onleave');
    expect(statuses[statuses.length - 1]).toBe('finished');

    const movements = await search<Encounter>('Encounter', [['part-of', `Encounter/${stay!.id}`]]);
    const byId = new Map(movements.map((m) => [m.identifier?.find((i) => i.system === MVT)?.value, m]));
    expect([...byId.keys()].sort()).toEqual(['MVT1', 'MVT2', 'MVT3', 'MVT4', 'MVT5']);
    expect(byId.get('MVT2')!.status).toBe('entered-in-error');
    expect(byId.get('MVT1')!.status).not.toBe('entered-in-error');
    expect(byId.get('MVT3')!.extension?.find((e) => e.url.endsWith('movement-nature'))?.valueCode).toBe('D');
    expect(byId.get('MVT1')!.serviceProvider?.reference).toMatch(/^Organization\//);
  });

  it('reaches every produced resource from its Provenance, and the message from the MessageHeader (both ways)', async () => {
    const result = map('01-a01-admission.hl7');
    const [header] = await search<MessageHeader>('MessageHeader', [['_id', (result.bundle.entry!.find((e) => e.resource?.resourceType === 'MessageHeader')!.resource as MessageHeader).id!]]);
    expect(header!.focus!.length).toBeGreaterThanOrEqual(5);
    for (const focus of header!.focus!) {
      const [type, id] = focus.reference!.split('/') as [string, string];
      const provenance = await search<Provenance>('Provenance', [['target', `${type}/${id}`]]);
      expect(provenance.length, focus.reference).toBeGreaterThan(0);
      expect(provenance.some((p) => p.entity?.some((e) => e.what.identifier?.value === result.messageId)), focus.reference).toBe(true);
    }
  });

  it('a replay of the same message converges (no new resource, no new version of unchanged ones)', async () => {
    const before = (await search<Encounter>('Encounter', [['_count', '100']])).length;
    const result = map('06-a03-discharge.hl7');
    const outcome = await t.store.submit({ bundle: result.bundle, origin: { kind: 'channel', channel: 'adt-in', messageId: result.messageId, rawSha256: result.sha } });
    expect(outcome.status).toBe('applied');
    expect((await search<Encounter>('Encounter', [['_count', '100']])).length).toBe(before);
  });

  it('merges a duplicate (A40): the source is inactive and replaced-by the target', async () => {
    for (const file of ['07-a28-duplicate.hl7', '08-a40-merge.hl7']) {
      const result = map(file);
      const outcome = await t.store.submit({ bundle: result.bundle, origin: { kind: 'channel', channel: 'adt-in', messageId: result.messageId, rawSha256: result.sha } });
      expect(outcome.status, `${file}: ${JSON.stringify(outcome.response).slice(0, 400)}`).toBe('applied');
    }
    const [source] = await search<Patient>('Patient', [['identifier', `${IPP}|IPP100099`]]);
    const [target] = await search<Patient>('Patient', [['identifier', `${IPP}|IPP100042`]]);
    expect(source!.active).toBe(false);
    expect(source!.link?.[0]?.type).toBe('replaced-by');
    expect(source!.link?.[0]?.other.reference).toBe(`Patient/${target!.id}`);
  });
});
