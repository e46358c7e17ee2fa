// Outbound: FHIR → HL7 v2 for an order feed (ORM^O01, OML^O21) and an ADT feed, checked by reading the message
// back with our own inbound maps (a round trip keeps identifiers, codes, dates) and by precise errors when data
// needed for a required field is missing.
import type { Bundle, Encounter, Patient, Practitioner, ServiceRequest, Specimen } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseHl7Message } from '../adapters/hl7v2/index.js';
import { createMapperRegistry, type KeneyMapperRegistry, type MappingResult } from './index.js';

const patient: Patient = {
  resourceType: 'Patient',
  id: 'p1',
  identifier: [
    { system: 'urn:oid:1.2.250.1.999.1.1', value: 'IPP100042', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PI' }] } },
    { system: 'urn:oid:1.2.250.1.213.1.4.10', value: '280017512345610', type: { coding: [{ system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203', code: 'INS-NIR' }] } },
  ],
  name: [{ use: 'official', family: 'TESTMARTIN', given: ['Marie-Claire'] }],
  gender: 'female',
  birthDate: '1980-01-15',
};
const doctor: Practitioner = { resourceType: 'Practitioner', id: 'd1', identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '10001234567', type: { coding: [{ code: 'RPPS' }] } }], name: [{ family: 'TESTDOC', given: ['Paul'] }] };
const specimen: Specimen = { resourceType: 'Specimen', id: 's1', identifier: [{ value: 'SPEC8' }], type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'BLD', display: 'Whole blood' }] }, collection: { collectedDateTime: '2024-03-05T09:15:00+01:00' } };
const order: ServiceRequest = {
  resourceType: 'ServiceRequest',
  id: 'o1',
  status: 'active',
  intent: 'order',
  identifier: [{ system: 'urn:oid:1.2.250.1.999.1.5', value: 'CMD8', type: { coding: [{ code: 'PLAC' }] } }],
  code: { coding: [{ system: 'http://loinc.org', code: '58410-2', display: 'CBC panel - Blood by Automated count' }] },
  priority: 'stat',
  subject: { reference: 'Patient/p1' },
  requester: { reference: 'Practitioner/d1' },
  specimen: [{ reference: 'Specimen/s1' }],
  authoredOn: '2024-03-05T09:00:00+01:00',
};
const bundleOf = (...resources: (Patient | Practitioner | Specimen | ServiceRequest | Encounter)[]): Bundle => ({ resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) });
const context = { channelId: 'lis-out', changeSetId: 'cs-1', at: '2024-03-05T09:01:00+01:00' };

let registry: KeneyMapperRegistry;
beforeAll(() => {
  registry = createMapperRegistry({ outbound: { sendingApplication: 'KENEY', receivingApplication: 'LIS' } });
});

function mapBack(text: string): MappingResult {
  return registry.get('hl7v2/default')!.map(parseHl7Message(text), { channelId: 'rt', messageId: 'rt', rawSha256: '0', receivedAt: '2024-03-05T09:02:00Z' }) as MappingResult;
}

describe('order feed', () => {
  for (const id of ['hl7v2/orm-o01', 'hl7v2/oml-o21']) {
    it(`${id}: a ServiceRequest with its patient, requester and specimen round-trips through our inbound map`, () => {
      const result = registry.encoder(id)!.encode(bundleOf(order, patient, doctor, specimen), context);
      expect(result.issues).toEqual([]);
      const message = result.message!;
      expect(message.get('MSH-9.1')).toBe(id === 'hl7v2/orm-o01' ? 'ORM' : 'OML');
      expect(message.get('MSH-10')).toMatch(/^[0-9A-F]{20}$/);
      expect(message.get('ORC-1')).toBe('NW');
      expect(message.get('OBR-4.1')).toBe('58410-2');
      expect(message.get('OBR-4.3')).toBe('LN');
      expect(message.get('OBR-5')).toBe('S');
      const back = mapBack(message.toString());
      expect(back.issues.filter((i) => i.severity === 'error')).toEqual([]);
      const entries = back.bundle.entry!.map((e) => e.resource!);
      const sr = entries.find((r) => r.resourceType === 'ServiceRequest') as ServiceRequest;
      expect(sr.identifier?.some((i) => i.system === 'urn:oid:1.2.250.1.999.1.5' && i.value === 'CMD8')).toBe(true);
      expect(sr.code?.coding?.[0]).toMatchObject({ system: 'http://loinc.org', code: '58410-2' });
      expect(sr.priority).toBe('stat');
      expect(sr.authoredOn).toBe('2024-03-05T09:00:00+01:00');
      const p = entries.find((r) => r.resourceType === 'Patient') as Patient;
      expect(p.identifier?.map((i) => `${i.system}|${i.value}`)).toEqual(patient.identifier!.map((i) => `${i.system}|${i.value}`));
      expect(p.birthDate).toBe('1980-01-15');
      if (id === 'hl7v2/oml-o21') expect(entries.some((r) => r.resourceType === 'Specimen' && (r as Specimen).type?.coding?.[0]?.code === 'BLD')).toBe(true);
    });
  }

  it('finds the ordering provider through a PractitionerRole (what the inbound maps write), as the engine passes it', () => {
    const role = { resourceType: 'PractitionerRole' as const, id: 'r1', practitioner: { reference: 'Practitioner/d1' } };
    const viaRole = registry.encoder('hl7v2/orm-o01')!.encode(bundleOf({ ...order, requester: { reference: 'PractitionerRole/r1' } }, patient, role as never, doctor), context);
    expect(viaRole.message!.get('ORC-12.1')).toBe('10001234567');
  });

  it('says what is missing: no patient given, no placer number, wrong resource type', () => {
    expect(registry.encoder('hl7v2/orm-o01')!.encode(order, context).issues[0]).toMatchObject({ severity: 'error', code: 'OUTBOUND_MISSING_DATA' });
    const noPlacer = registry.encoder('hl7v2/orm-o01')!.encode(bundleOf({ ...order, identifier: [] }, patient), context);
    expect(noPlacer.issues[0]!.message).toMatch(/ORC-2/);
    expect(registry.encoder('hl7v2/orm-o01')!.encode(patient, context).issues[0]!.code).toBe('OUTBOUND_WRONG_RESOURCE');
  });
});

describe('ADT feed', () => {
  it('a finished Encounter gives ADT^A03 (PAM-FR version) with PV1-19 and PV1-45, read back as the same stay', () => {
    const stay: Encounter = {
      resourceType: 'Encounter',
      id: 'e1',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      identifier: [{ system: 'urn:oid:1.2.250.1.999.1.2', value: 'NDA7001', type: { coding: [{ code: 'AN' }] } }],
      subject: { reference: 'Patient/p1' },
      participant: [{ individual: { reference: 'Practitioner/d1' } }],
      period: { start: '2024-03-05T10:00:00+01:00', end: '2024-03-10T11:00:00+01:00' },
    };
    const result = registry.encoder('hl7v2/adt')!.encode(bundleOf(stay, patient, doctor), context);
    expect(result.issues).toEqual([]);
    const m = result.message!;
    expect(`${m.get('MSH-9.1')}^${m.get('MSH-9.2')}`).toBe('ADT^A03');
    expect(m.get('MSH-12.2')).toBe('FRA');
    expect(m.get('PV1-2')).toBe('I');
    expect(m.get('PV1-7.1')).toBe('10001234567');
    const back = mapBack(m.toString()).bundle.entry!.map((e) => e.resource!);
    const encounter = back.find((r) => r.resourceType === 'Encounter') as Encounter;
    expect(encounter.identifier?.[0]).toMatchObject({ system: 'urn:oid:1.2.250.1.999.1.2', value: 'NDA7001' });
    expect(encounter.status).toBe('finished');
    expect(encounter.period).toEqual(stay.period);
  });

  it('a Patient gives ADT^A08 with every identifier in PID-3', () => {
    const m = registry.encoder('hl7v2/adt')!.encode(patient, context).message!;
    expect(m.get('MSH-9.2')).toBe('A08');
    expect(m.getAll('PID-3.1')).toEqual(['IPP100042', '280017512345610']);
    expect(m.get('PID-3[2].4.2')).toBe('1.2.250.1.213.1.4.10');
  });
});
