import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasService } from '../test/services.js';
import { openTestStore, type TestProfile, type TestStore } from '../test/store-harness.js';
import { parseSearch } from './search/search-query.js';
import { projectionDigest } from './projection/projector.js';

const INS_SYSTEM = 'urn:oid:1.2.250.1.213.1.4.10';
const api = { kind: 'api' as const, actor: 'test' };

function transaction(...entry: Bundle['entry'] & object): Bundle {
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

for (const profile of ['pglite', 'postgres'] as TestProfile[]) {
  describe.skipIf(profile === 'postgres' && !hasService('postgres'))(`canonical store (${profile})`, () => {
    let t: TestStore;
    beforeAll(async () => {
      t = await openTestStore(profile);
    });
    afterAll(() => t?.close());

    it('creates a patient and an observation linked by urn:uuid in one transaction, with Provenance', async () => {
      const outcome = await t.store.submit({
        origin: {
          kind: 'channel',
          channel: 'adt-in',
          messageId: 'm-1',
          controlId: 'CTRL1',
          sender: 'LAB^CHU',
          rawSha256: 'ab'.repeat(32),
        },
        bundle: transaction(
          {
            fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111',
            request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${INS_SYSTEM}|184127512345678` },
            resource: {
              resourceType: 'Patient',
              identifier: [{ system: INS_SYSTEM, value: '184127512345678' }],
              name: [{ family: 'Hélène', given: ['Bérénice'] }],
            } as Patient,
          },
          {
            request: { method: 'POST', url: 'Observation' },
            resource: {
              resourceType: 'Observation',
              status: 'final',
              code: { coding: [{ system: 'http://loinc.org', code: '2823-3' }] },
              subject: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
              effectiveDateTime: '2024-03-05T10:00:00+01:00',
              valueQuantity: { value: 4.2, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
            } as Observation,
          },
        ),
      });
      expect(outcome.status).toBe('applied');
      const entries = (outcome.response as Bundle).entry!;
      expect(entries.map((e) => e.response?.status)).toEqual(['201 Created', '201 Created']);
      const patientId = entries[0]!.response!.location!.split('/')[1]!;
      const obs = JSON.parse(
        (await t.store.read('Observation', entries[1]!.response!.location!.split('/')[1]!)).content,
      ) as Observation;
      expect(obs.subject?.reference).toBe(`Patient/${patientId}`);
      expect(obs.meta?.versionId).toBe('1');

      const byPatient = await t.store.search(
        parseSearch('Observation', [
          ['patient.identifier', `${INS_SYSTEM}|184127512345678`],
          ['value-quantity', 'gt4|http://unitsofmeasure.org|mmol/L'],
          ['date', 'ge2024-03-05'],
        ]),
      );
      expect(byPatient.matches.map((m) => m.id)).toEqual([obs.id]);
      const byName = await t.store.search(parseSearch('Patient', [['name', 'helene']]));
      expect(byName.matches).toHaveLength(1);
      const prov = await t.store.search(parseSearch('Provenance', [['target', `Observation/${obs.id}`]]));
      expect(prov.matches).toHaveLength(1);
      expect(prov.matches[0]!.content).toContain('CTRL1');
    });

    it('converges: the same conditional create twice gives one patient; a no-op update makes no version', async () => {
      const bundle = transaction({
        request: { method: 'PUT', url: `Patient?identifier=${INS_SYSTEM}|299999999999912` },
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: INS_SYSTEM, value: '299999999999912' }],
          gender: 'female',
        },
      });
      const first = await t.store.submit({ origin: api, bundle });
      const second = await t.store.submit({ origin: api, bundle });
      const loc1 = (first.response as Bundle).entry![0]!.response!.location;
      const loc2 = (second.response as Bundle).entry![0]!.response!.location;
      expect(loc1).toBe(loc2);
      expect(loc1).toMatch(/_history\/1$/);
    });

    it('rejects a transaction atomically when one entry fails, and the change set is recorded as rejected', async () => {
      const outcome = await t.store.submit({
        origin: api,
        bundle: transaction(
          {
            request: { method: 'POST', url: 'Patient' },
            resource: { resourceType: 'Patient', name: [{ family: 'Atomic' }] },
          },
          {
            request: { method: 'PUT', url: 'Patient/does-not-matter', ifMatch: 'W/"7"' },
            resource: { resourceType: 'Patient', id: 'does-not-matter' },
          },
        ),
      });
      expect(outcome.status).toBe('rejected');
      expect(outcome.httpStatus).toBe(412);
      const found = await t.store.search(parseSearch('Patient', [['name', 'Atomic']]));
      expect(found.matches).toHaveLength(0);
    });

    it('merges a patient into another (Patient/$merge): links, references moved, idempotent on replay', async () => {
      const ipp = 'urn:oid:1.2.250.1.999.1.1';
      const setup = await t.store.submit({
        origin: api,
        bundle: transaction(
          {
            fullUrl: 'urn:uuid:aaaaaaaa-0000-4000-8000-000000000001',
            request: { method: 'PUT', url: `Patient?identifier=${ipp}|OLD-1` },
            resource: {
              resourceType: 'Patient',
              identifier: [{ system: ipp, value: 'OLD-1' }],
              name: [{ family: 'Doublon' }],
            },
          },
          {
            request: { method: 'POST', url: 'Encounter' },
            resource: {
              resourceType: 'Encounter',
              status: 'finished',
              class: { code: 'IMP' },
              subject: { reference: 'urn:uuid:aaaaaaaa-0000-4000-8000-000000000001' },
            },
          },
          {
            request: { method: 'POST', url: 'Observation' },
            resource: {
              resourceType: 'Observation',
              status: 'final',
              code: { text: 'K' },
              subject: { reference: 'urn:uuid:aaaaaaaa-0000-4000-8000-000000000001' },
            },
          },
        ),
      });
      expect(setup.status).toBe('applied');
      const [sourceId, encounterId, observationId] = (setup.response as Bundle).entry!.map(
        (e) => e.response!.location!.split('/')[1]!,
      );
      const merge = transaction(
        {
          fullUrl: 'urn:uuid:bbbbbbbb-0000-4000-8000-000000000002',
          request: { method: 'PUT', url: `Patient?identifier=${ipp}|KEEP-1` },
          resource: {
            resourceType: 'Patient',
            identifier: [{ system: ipp, value: 'KEEP-1' }],
            name: [{ family: 'Survivant' }],
          },
        },
        {
          request: { method: 'POST', url: 'Patient/$merge' },
          resource: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'source-patient', valueReference: { reference: `Patient?identifier=${ipp}|OLD-1` } },
              {
                name: 'target-patient',
                valueReference: { reference: 'urn:uuid:bbbbbbbb-0000-4000-8000-000000000002' },
              },
            ],
          } as never,
        },
      );
      const merged = await t.store.submit({ origin: api, bundle: merge });
      expect(merged.status).toBe('applied');
      const targetId = (merged.response as Bundle).entry![0]!.response!.location!.split('/')[1]!;
      const source = JSON.parse((await t.store.read('Patient', sourceId!)).content) as Patient;
      const target = JSON.parse((await t.store.read('Patient', targetId)).content) as Patient;
      expect(source.active).toBe(false);
      expect(source.link).toEqual([{ other: { reference: `Patient/${targetId}` }, type: 'replaced-by' }]);
      expect(target.link).toEqual([{ other: { reference: `Patient/${sourceId}` }, type: 'replaces' }]);
      expect(JSON.parse((await t.store.read('Encounter', encounterId!)).content).subject.reference).toBe(
        `Patient/${targetId}`,
      );
      const obs = await t.store.read('Observation', observationId!);
      expect(JSON.parse(obs.content).subject.reference).toBe(`Patient/${targetId}`);
      const byTarget = await t.store.search(parseSearch('Observation', [['subject', `Patient/${targetId}`]]));
      expect(byTarget.matches.map((m) => m.id)).toEqual([observationId]);
      // The Provenance of the first change set still points at the versions it recorded.
      const firstProvenance = await t.store.search(
        parseSearch('Provenance', [['target', `Observation/${observationId}`]]),
      );
      expect(firstProvenance.matches.length).toBe(2);

      const again = await t.store.submit({ origin: api, bundle: merge });
      expect(again.status).toBe('applied');
      expect((await t.store.read('Observation', observationId!)).versionId).toBe(obs.versionId);
      expect((await t.store.read('Patient', sourceId!)).versionId).toBe(2);

      const unknown = await t.store.submit({
        origin: api,
        bundle: transaction({
          request: { method: 'POST', url: 'Patient/$merge' },
          resource: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'source-patient', valueReference: { reference: `Patient?identifier=${ipp}|NOBODY` } },
              { name: 'target-patient', valueReference: { reference: `Patient/${targetId}` } },
            ],
          } as never,
        }),
      });
      expect(unknown.status).toBe('rejected');
      expect(unknown.httpStatus).toBe(412);
    });

    it('rebuild from offset 0 gives the identical digest', async () => {
      await t.projector.catchUp();
      const before = await projectionDigest(t.sql);
      await t.projector.stop();
      await t.projector.rebuild();
      const after = await projectionDigest(t.sql);
      expect(after).toEqual(before);
      expect(Number(before.resources!.split(':')[0])).toBeGreaterThan(3);
      t.projector.assign([...Array(t.log.partitions).keys()]);
    });
  });
}
