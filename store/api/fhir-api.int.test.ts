// The FHIR REST contract, the same on every profile: embedded (PGlite + SQL log), server (PostgreSQL +
// SQL log) and cluster (PostgreSQL + Kafka). Each test states behaviour a FHIR client relies on.
import type { Bundle, CapabilityStatement, Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_PROFILES, openTestHub, type TestHub } from '../../test/hub-harness.js';

const INS = 'urn:oid:1.2.250.1.213.1.4.10';
const IPP = 'urn:oid:1.2.250.1.999.1.1';

interface Reply<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: T;
}

for (const { profile, available } of HUB_PROFILES) {
  describe.skipIf(!available())(`FHIR REST API (${profile})`, () => {
    let t: TestHub;
    const call = async <T = unknown>(
      method: string,
      url: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ): Promise<Reply<T>> => {
      const response = await t.hub.app.inject({
        method: method as 'GET',
        url: `/fhir/${url}`,
        headers: { ...t.auth, ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      return {
        status: response.statusCode,
        headers: response.headers,
        body: (response.body ? JSON.parse(response.body) : undefined) as T,
      };
    };
    const ids = (bundle: Bundle) =>
      (bundle.entry ?? []).filter((e) => e.search?.mode !== 'outcome').map((e) => e.resource!.id);

    beforeAll(async () => {
      t = await openTestHub(profile);
    }, 180_000);
    afterAll(() => t?.close());

    it('tells the truth in /metadata, without a token', async () => {
      const response = await t.hub.app.inject({ method: 'GET', url: '/fhir/metadata' });
      expect(response.statusCode).toBe(200);
      const cs = JSON.parse(response.body) as CapabilityStatement;
      expect(cs.fhirVersion).toBe('4.0.1');
      const patient = cs.rest![0]!.resource!.find((r) => r.type === 'Patient')!;
      expect(patient.interaction!.map((i) => i.code)).toEqual(
        expect.arrayContaining(['read', 'vread', 'update', 'delete', 'create', 'search-type', 'history-instance']),
      );
      expect(patient.searchParam!.map((p) => p.name)).toEqual(
        expect.arrayContaining(['identifier', 'name', 'birthdate', '_id', '_lastUpdated']),
      );
      // Composite parameters are not answered, so they are not announced.
      const observation = cs.rest![0]!.resource!.find((r) => r.type === 'Observation')!;
      expect(observation.searchParam!.map((p) => p.name)).not.toContain('code-value-quantity');
      expect(cs.rest![0]!.resource!.map((r) => r.type)).not.toContain('OperationOutcome');
    });

    it('refuses a request without a valid token (401) and a write by a read-only token (403)', async () => {
      const anonymous = await t.hub.app.inject({ method: 'GET', url: '/fhir/Patient' });
      expect(anonymous.statusCode).toBe(401);
      expect((JSON.parse(anonymous.body) as OperationOutcome).issue[0]!.code).toBe('login');
      const forged = await t.hub.app.inject({
        method: 'GET',
        url: '/fhir/Patient',
        headers: { authorization: 'Bearer kny_forged' },
      });
      expect(forged.statusCode).toBe(401);
      const { token } = await t.hub.context.tokens.create('reader', ['read']);
      const write = await t.hub.app.inject({
        method: 'POST',
        url: '/fhir/Patient',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
        payload: JSON.stringify({ resourceType: 'Patient' }),
      });
      expect(write.statusCode).toBe(403);
      const read = await t.hub.app.inject({
        method: 'GET',
        url: '/fhir/Patient?_count=1',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(read.statusCode).toBe(200);
    });

    it('creates, reads, versions and deletes with ETags, If-Match and history', async () => {
      const created = await call<Patient>('POST', 'Patient', {
        resourceType: 'Patient',
        name: [{ family: 'Lefèvre', given: ['Anaïs'] }],
        gender: 'female',
      });
      expect(created.status).toBe(201);
      expect(created.headers.etag).toBe('W/"1"');
      const id = created.body.id!;
      expect(created.headers.location).toMatch(new RegExp(`/fhir/Patient/${id}/_history/1$`));

      const read = await call<Patient>('GET', `Patient/${id}`);
      expect(read.status).toBe(200);
      expect(read.body.name![0]!.family).toBe('Lefèvre');

      const stale = await call('PUT', `Patient/${id}`, { ...read.body, gender: 'male' }, { 'if-match': 'W/"7"' });
      expect(stale.status).toBe(412);
      const updated = await call<Patient>(
        'PUT',
        `Patient/${id}`,
        { ...read.body, gender: 'other' },
        { 'if-match': 'W/"1"' },
      );
      expect(updated.status).toBe(200);
      expect(updated.body.meta!.versionId).toBe('2');

      const v1 = await call<Patient>('GET', `Patient/${id}/_history/1`);
      expect(v1.body.gender).toBe('female');
      const history = await call<Bundle>('GET', `Patient/${id}/_history`);
      expect(history.body.type).toBe('history');
      expect(history.body.entry!.map((e) => e.response!.etag)).toEqual(['W/"2"', 'W/"1"']);

      expect((await call('DELETE', `Patient/${id}`)).status).toBe(204);
      const gone = await call<OperationOutcome>('GET', `Patient/${id}`);
      expect(gone.status).toBe(410);
      expect((await call('DELETE', `Patient/${id}`)).status).toBe(204);
      const afterDelete = await call<Bundle>('GET', `Patient/${id}/_history`);
      expect(afterDelete.body.entry![0]!.request!.method).toBe('DELETE');
      expect(ids((await call<Bundle>('GET', `Patient?_id=${id}`)).body)).toEqual([]);
      // Update of a deleted resource brings it back as a new version.
      const back = await call<Patient>('PUT', `Patient/${id}`, { resourceType: 'Patient', id, gender: 'female' });
      expect(back.status).toBe(201);
      expect(back.body.meta!.versionId).toBe('4');
    });

    it('creates at a client-chosen id with PUT, and honours Prefer: return=minimal', async () => {
      const put = await call(
        'PUT',
        'Practitioner/rpps-10001234567',
        { resourceType: 'Practitioner', id: 'rpps-10001234567', name: [{ family: 'Martin' }] },
        { prefer: 'return=minimal' },
      );
      expect(put.status).toBe(201);
      expect(put.body).toBeUndefined();
      const mismatch = await call('PUT', 'Practitioner/other-id', {
        resourceType: 'Practitioner',
        id: 'rpps-10001234567',
      });
      expect(mismatch.status).toBe(400);
    });

    it('conditional create and update converge on business identifiers; several matches are refused', async () => {
      const body = {
        resourceType: 'Patient',
        identifier: [{ system: INS, value: '184127512345678' }],
        name: [{ family: 'Bernard' }],
      };
      const first = await call<Patient>('POST', 'Patient', body, {
        'if-none-exist': `identifier=${INS}|184127512345678`,
      });
      const second = await call<Patient>('POST', 'Patient', body, {
        'if-none-exist': `identifier=${INS}|184127512345678`,
      });
      expect(first.status).toBe(201);
      expect(second.status).toBe(200);
      expect(second.body.id).toBe(first.body.id);

      const upsert1 = await call<Patient>('PUT', `Patient?identifier=${IPP}|IPP-42`, {
        resourceType: 'Patient',
        identifier: [{ system: IPP, value: 'IPP-42' }],
        birthDate: '1984-12-01',
      });
      const upsert2 = await call<Patient>('PUT', `Patient?identifier=${IPP}|IPP-42`, {
        resourceType: 'Patient',
        identifier: [{ system: IPP, value: 'IPP-42' }],
        birthDate: '1984-12-02',
      });
      expect(upsert1.status).toBe(201);
      expect(upsert2.status).toBe(200);
      expect(upsert2.body.id).toBe(upsert1.body.id);
      expect(upsert2.body.meta!.versionId).toBe('2');

      await call('POST', 'Patient', { resourceType: 'Patient', identifier: [{ system: IPP, value: 'DUP' }] });
      await call('POST', 'Patient', { resourceType: 'Patient', identifier: [{ system: IPP, value: 'DUP' }] });
      const ambiguous = await call<OperationOutcome>('PUT', `Patient?identifier=${IPP}|DUP`, {
        resourceType: 'Patient',
      });
      expect(ambiguous.status).toBe(412);
      expect(ambiguous.body.issue[0]!.code).toBe('multiple-matches');
    });

    it('rejects invalid resources with an OperationOutcome that names the path', async () => {
      const missingStatus = await call<OperationOutcome>('POST', 'Observation', {
        resourceType: 'Observation',
        code: { text: 'K' },
      });
      expect(missingStatus.status).toBe(400);
      expect(missingStatus.body.issue.flatMap((i) => i.expression ?? [])).toContain('Observation.status');
      const badType = await call<OperationOutcome>('POST', 'Observation', {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'K' },
        valueQuantity: { value: 'four' },
      });
      expect(badType.status).toBe(400);
      expect(JSON.stringify(badType.body)).toContain('Observation.valueQuantity.value');
      expect((await call('POST', 'Observation', { resourceType: 'Patient' })).status).toBe(400);
      // R4 invariants: org-1 (which the underlying validator skips) and org-2, with the rule in the answer.
      const nameless = await call<OperationOutcome>('POST', 'Organization', {
        resourceType: 'Organization',
        address: [{ country: 'FR' }],
      });
      expect(nameless.status).toBe(400);
      expect(JSON.stringify(nameless.body)).toContain('org-1');
      expect((await call('POST', 'Organization', { resourceType: 'Organization', name: 'CHU' })).status).toBe(201);
      const homeAddress = await call<OperationOutcome>('POST', 'Organization', {
        resourceType: 'Organization',
        name: 'CHU',
        address: [{ use: 'home', city: 'Lyon' }],
      });
      expect(homeAddress.status).toBe(400);
      expect(JSON.stringify(homeAddress.body)).toContain('org-2');
      expect((await call('GET', 'Unicorn')).status).toBe(404);
      expect((await call('POST', 'Patient', '{"resourceType": "Patient",')).status).toBe(400);
      const wrongMedia = await t.hub.app.inject({
        method: 'POST',
        url: '/fhir/Patient',
        headers: { ...t.auth, 'content-type': 'text/plain' },
        payload: 'hello',
      });
      expect(wrongMedia.statusCode).toBe(415);
      expect((await call('POST', 'OperationOutcome', { resourceType: 'OperationOutcome', issue: [] })).status).toBe(
        404,
      );
    });

    it('applies a transaction atomically with urn:uuid and conditional references, and rolls it all back on failure', async () => {
      const tx: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:6b1f2d7e-0f3a-4c55-9a1e-2b6c1d0e9f11',
            request: { method: 'PUT', url: `Patient?identifier=${INS}|299031234567891` },
            resource: {
              resourceType: 'Patient',
              identifier: [{ system: INS, value: '299031234567891' }],
              name: [{ family: 'Moreau' }],
            },
          },
          {
            request: { method: 'POST', url: 'Observation' },
            resource: {
              resourceType: 'Observation',
              status: 'final',
              code: { coding: [{ system: 'http://loinc.org', code: '2823-3', display: 'Potassium' }] },
              subject: { reference: 'urn:uuid:6b1f2d7e-0f3a-4c55-9a1e-2b6c1d0e9f11' },
              performer: [{ reference: 'Practitioner?_id=rpps-10001234567' }],
              effectiveDateTime: '2026-11-20T08:30:00+01:00',
              valueQuantity: { value: 5.9, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
            },
          },
        ],
      };
      const ok = await call<Bundle>('POST', '', tx);
      expect(ok.status).toBe(200);
      expect(ok.body.type).toBe('transaction-response');
      const [patientLocation, observationLocation] = ok.body.entry!.map((e) => e.response!.location!);
      const obs = await call<Observation>(
        'GET',
        observationLocation!.replace(/^.*\/fhir\//, '').replace(/\/_history\/\d+$/, ''),
      );
      expect(obs.body.subject!.reference).toBe(
        patientLocation!.replace(/^.*\/fhir\//, '').replace(/\/_history\/\d+$/, ''),
      );
      expect(obs.body.performer![0]!.reference).toBe('Practitioner/rpps-10001234567');

      const failing: Bundle = {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            request: { method: 'POST', url: 'Patient' },
            resource: { resourceType: 'Patient', name: [{ family: 'Rollback' }] },
          },
          {
            request: { method: 'POST', url: 'Observation' },
            resource: {
              resourceType: 'Observation',
              status: 'final',
              code: { text: 'x' },
              subject: { reference: 'Patient?identifier=nobody|none' },
            },
          },
        ],
      };
      const rejected = await call<OperationOutcome>('POST', '', failing);
      expect(rejected.status).toBe(412);
      expect(JSON.stringify(rejected.body)).toContain('matched 0');
      expect(ids((await call<Bundle>('GET', 'Patient?name=rollback')).body)).toEqual([]);
      const invalid = await call<OperationOutcome>('POST', '', {
        ...failing,
        entry: [
          failing.entry![0]!,
          { request: { method: 'POST', url: 'Observation' }, resource: { resourceType: 'Observation' } },
        ],
      });
      expect(invalid.status).toBe(400);
      expect(invalid.body.issue.flatMap((i) => i.expression ?? [])).toContain('Bundle.entry[1].resource.status');
    });

    it('merges two patients with Patient/$merge and moves their references', async () => {
      const a = await call<Patient>('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Merge-Source' }] });
      const b = await call<Patient>('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Merge-Target' }] });
      const obs = await call<Observation>('POST', 'Observation', {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Na' },
        subject: { reference: `Patient/${a.body.id}` },
      });
      const merged = await call<OperationOutcome>('POST', 'Patient/$merge', {
        resourceType: 'Parameters',
        parameter: [
          { name: 'source-patient', valueReference: { reference: `Patient/${a.body.id}` } },
          { name: 'target-patient', valueReference: { reference: `Patient/${b.body.id}` } },
        ],
      });
      expect(merged.status).toBe(200);
      expect(merged.body.issue[0]!.details!.text).toContain('1 resource(s)');
      expect((await call<Observation>('GET', `Observation/${obs.body.id}`)).body.subject!.reference).toBe(
        `Patient/${b.body.id}`,
      );
      expect((await call<Patient>('GET', `Patient/${a.body.id}`)).body.active).toBe(false);
      const same = await call<OperationOutcome>('POST', 'Patient/$merge', {
        resourceType: 'Parameters',
        parameter: [
          { name: 'source-patient', valueReference: { reference: `Patient/${b.body.id}` } },
          { name: 'target-patient', valueReference: { reference: `Patient/${b.body.id}` } },
        ],
      });
      expect(same.status).toBe(400);
    });

    it('applies a batch entry by entry', async () => {
      const batch = await call<Bundle>('POST', '', {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          {
            request: { method: 'POST', url: 'Organization' },
            resource: { resourceType: 'Organization', name: 'CH Test' },
          },
          {
            request: { method: 'PUT', url: 'Organization/x', ifMatch: 'W/"9"' },
            resource: { resourceType: 'Organization', id: 'x', name: 'Y' },
          },
          { request: { method: 'GET', url: 'Organization?name=ch%20test' } },
        ],
      });
      expect(batch.status).toBe(200);
      expect(batch.body.entry!.map((e) => e.response!.status.split(' ')[0])).toEqual(['201', '412', '200']);
      expect((batch.body.entry![2]!.resource as Bundle).entry).toHaveLength(1);
    });

    describe('search', () => {
      let patientId: string;
      beforeAll(async () => {
        const tx = await call<Bundle>('POST', '', {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            {
              fullUrl: 'urn:uuid:0a0a0a0a-0000-4000-8000-000000000001',
              request: { method: 'POST', url: 'Patient' },
              resource: {
                resourceType: 'Patient',
                identifier: [
                  { system: INS, value: '255081416802538' },
                  { system: IPP, value: 'IPP-SEARCH-1' },
                ],
                name: [{ family: 'Dubois-Saint Éloi', given: ['Zoé'] }],
                birthDate: '1955-08-14',
                gender: 'female',
                address: [{ city: 'Saint-Étienne', postalCode: '42000' }],
              },
            },
            ...[3.4, 4.1, 5.9].map((value, i) => ({
              request: { method: 'POST' as const, url: 'Observation' },
              resource: {
                resourceType: 'Observation' as const,
                status: i === 2 ? ('preliminary' as const) : ('final' as const),
                code: {
                  coding: [
                    {
                      system: 'http://loinc.org',
                      code: '2823-3',
                      display: 'Potassium [Moles/volume] in Serum or Plasma',
                    },
                  ],
                },
                subject: { reference: 'urn:uuid:0a0a0a0a-0000-4000-8000-000000000001' },
                effectiveDateTime: `2026-0${i + 1}-15T09:00:00Z`,
                valueQuantity: { value, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
              },
            })),
          ],
        });
        patientId = tx.body.entry![0]!.response!.location!.split('/Patient/')[1]!.split('/')[0]!;
      });

      it('token: code, system|code, |code, :not and :text', async () => {
        expect(ids((await call<Bundle>('GET', `Patient?identifier=${INS}|255081416802538`)).body)).toEqual([patientId]);
        expect(ids((await call<Bundle>('GET', 'Patient?identifier=IPP-SEARCH-1')).body)).toEqual([patientId]);
        expect(ids((await call<Bundle>('GET', 'Patient?identifier=other|IPP-SEARCH-1')).body)).toEqual([]);
        expect(
          (await call<Bundle>('GET', `Observation?subject=Patient/${patientId}&code=http://loinc.org|2823-3`)).body
            .entry,
        ).toHaveLength(3);
        expect(
          (await call<Bundle>('GET', `Observation?subject=Patient/${patientId}&status:not=final`)).body.entry,
        ).toHaveLength(1);
        expect(
          (await call<Bundle>('GET', `Observation?subject=Patient/${patientId}&code:text=potassium`)).body.entry,
        ).toHaveLength(3);
      });

      it('string: accent- and case-insensitive prefix, :exact, :contains', async () => {
        expect(ids((await call<Bundle>('GET', 'Patient?family=dubois')).body)).toContain(patientId);
        expect(ids((await call<Bundle>('GET', 'Patient?given=ZOE')).body)).toContain(patientId);
        expect(
          ids((await call<Bundle>('GET', `Patient?name:exact=${encodeURIComponent('Dubois-Saint Éloi')}`)).body),
        ).toEqual([patientId]);
        expect(ids((await call<Bundle>('GET', 'Patient?name:exact=dubois-saint%20eloi')).body)).toEqual([]);
        expect(ids((await call<Bundle>('GET', 'Patient?name:contains=saint%20el')).body)).toEqual([patientId]);
        expect(ids((await call<Bundle>('GET', 'Patient?address-city=saint-etienne')).body)).toEqual([patientId]);
        // LIKE wildcards in a value are data.
        expect(ids((await call<Bundle>('GET', 'Patient?name:contains=%25')).body)).toEqual([]);
      });

      it('date with prefixes, and quantity with units and prefixes', async () => {
        const base = `Observation?subject=Patient/${patientId}`;
        expect((await call<Bundle>('GET', `${base}&date=2026-02`)).body.entry).toHaveLength(1);
        expect((await call<Bundle>('GET', `${base}&date=ge2026-02-01&date=lt2026-03-31`)).body.entry).toHaveLength(2);
        expect((await call<Bundle>('GET', `${base}&date=gt2026-02-15T09:00:00Z`)).body.entry).toHaveLength(1);
        expect(
          (await call<Bundle>('GET', `${base}&value-quantity=gt4|http://unitsofmeasure.org|mmol/L`)).body.entry,
        ).toHaveLength(2);
        expect((await call<Bundle>('GET', `${base}&value-quantity=4.1`)).body.entry).toHaveLength(1);
        expect((await call<Bundle>('GET', `${base}&value-quantity=le4.1||mmol/L`)).body.entry).toHaveLength(2);
        expect((await call<Bundle>('GET', `Patient?birthdate=1955`)).body.entry!.map((e) => e.resource!.id)).toContain(
          patientId,
        );
        expect((await call<OperationOutcome>('GET', `${base}&date=yesterday`)).status).toBe(400);
      });

      it('reference, chained on identifier, :identifier-free chains with a type, and _id/_lastUpdated', async () => {
        expect(
          (await call<Bundle>('GET', `Observation?patient.identifier=${INS}|255081416802538`)).body.entry,
        ).toHaveLength(3);
        expect((await call<Bundle>('GET', `Observation?subject:Patient.birthdate=1955-08-14`)).body.entry).toHaveLength(
          3,
        );
        expect((await call<Bundle>('GET', `Observation?subject=${patientId}`)).body.entry).toHaveLength(3);
        expect(
          (await call<Bundle>('GET', `Patient?_id=${patientId}&_lastUpdated=gt2000-01-01`)).body.entry,
        ).toHaveLength(1);
        expect(
          (await call<Bundle>('GET', `Patient?_id=${patientId}&_lastUpdated=lt2000-01-01`)).body.entry,
        ).toHaveLength(0);
      });

      it('pages with _count and next/previous links, sorts, counts', async () => {
        const base = `Observation?subject=Patient/${patientId}`;
        const page1 = await call<Bundle>('GET', `${base}&_count=2&_sort=-date`);
        expect(page1.body.entry!.map((e) => (e.resource as Observation).valueQuantity!.value)).toEqual([5.9, 4.1]);
        const next = page1.body.link!.find((l) => l.relation === 'next')!.url;
        const page2 = await call<Bundle>('GET', next.replace(/^.*\/fhir\//, ''));
        expect(page2.body.entry!.map((e) => (e.resource as Observation).valueQuantity!.value)).toEqual([3.4]);
        expect(page2.body.link!.some((l) => l.relation === 'previous')).toBe(true);
        expect(page2.body.link!.some((l) => l.relation === 'next')).toBe(false);
        const ascending = await call<Bundle>('GET', `${base}&_sort=value-quantity`);
        expect(ascending.body.entry!.map((e) => (e.resource as Observation).valueQuantity!.value)).toEqual([
          3.4, 4.1, 5.9,
        ]);
        const count = await call<Bundle>('GET', `${base}&_summary=count`);
        expect(count.body.total).toBe(3);
        expect(count.body.entry).toBeUndefined();
      });

      it('_include, _revinclude (lineage through Provenance) and Patient/$everything', async () => {
        const included = await call<Bundle>(
          'GET',
          `Observation?subject=Patient/${patientId}&_include=Observation:subject`,
        );
        expect(included.body.entry!.filter((e) => e.search!.mode === 'include').map((e) => e.resource!.id)).toEqual([
          patientId,
        ]);
        const withProvenance = await call<Bundle>('GET', `Patient?_id=${patientId}&_revinclude=Provenance:target`);
        const provenance = withProvenance.body.entry!.find((e) => e.resource!.resourceType === 'Provenance');
        expect(provenance?.search!.mode).toBe('include');
        const everything = await call<Bundle>('GET', `Patient/${patientId}/$everything`);
        const types = everything.body.entry!.map((e) => e.resource!.resourceType);
        expect(types[0]).toBe('Patient');
        expect(types.filter((x) => x === 'Observation')).toHaveLength(3);
      });

      it('unknown parameters: a warning under lenient handling, 400 under strict', async () => {
        const lenient = await call<Bundle>('GET', 'Patient?shoe-size=42&_count=1');
        expect(lenient.status).toBe(200);
        const warning = lenient.body.entry!.find((e) => e.search!.mode === 'outcome')!.resource as OperationOutcome;
        expect(warning.issue[0]!.details!.text).toContain('shoe-size');
        const strict = await call<OperationOutcome>('GET', 'Patient?shoe-size=42', undefined, {
          prefer: 'handling=strict',
        });
        expect(strict.status).toBe(400);
        expect(strict.body.issue[0]!.details!.text).toContain('shoe-size');
      });
    });

    it('audits every read with who, what and whose data', async () => {
      const created = await call<Patient>('POST', 'Patient', {
        resourceType: 'Patient',
        name: [{ family: 'Audited' }],
      });
      await call('GET', `Patient/${created.body.id}`);
      await t.hub.context.audit.flush();
      const rows = await t.hub.context.sql.query<{
        action: string;
        actor: string;
        patient_ids: string[];
        outcome: number;
      }>('SELECT action, actor, patient_ids, outcome FROM audit_trail WHERE resource_id = $1 ORDER BY seq', [
        created.body.id,
      ]);
      expect(rows.rows.map((r) => r.action)).toEqual(['create', 'read']);
      expect(rows.rows[1]!.patient_ids).toEqual([created.body.id]);
      expect(rows.rows[1]!.outcome).toBe(200);
      expect(rows.rows[1]!.actor).not.toBe('anonymous');
      expect((await t.hub.context.audit.verify()).ok).toBe(true);
    });
  });
}
