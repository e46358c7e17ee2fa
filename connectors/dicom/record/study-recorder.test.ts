// The recorder against a real store (PGlite, SQL log, projector) and a real archive, without the network:
// convergence under concurrency, reconciliation with a known identity, and what the sender is answered when
// the store refuses, when the log is down and when the projection lags.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, ImagingStudy, Patient, Provenance, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { syntheticInstance } from '../../../adapters/dicom/test-support.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import { FsBlobStore } from '../../../store/blob/fs-blob-store.js';
import { OriginKind } from '../../../store/change-set.js';
import { LINEAGE } from '../../../store/fhir/lineage.js';
import type { ChangeLog } from '../../../store/log/change-log.js';
import { SqlChangeLog } from '../../../store/log/sql-log.js';
import { parseSearch } from '../../../store/search/search-query.js';
import { openTestStore, type TestStore } from '../../../test/store-harness.js';
import { DicomService, InstanceProcessingError } from '../dicom-service.js';
import { dicomMigrations } from '../index/migrations.js';
import { RecordErrorCode, StudyRecorder, type RecordResult } from './study-recorder.js';
import { INS_TEST_OID, insElements, studyInstance, syntheticStudy, testNir } from './test-support.js';

let t: TestStore;
let dicom: DicomService;
let recorder: StudyRecorder;
let blobDir: string;
/** The log can be made to fail its appends (as when the database or Kafka is down). */
let logDown = false;

beforeAll(async () => {
  t = await openTestStore('pglite', {
    migrations: dicomMigrations,
    log: async (sql) => {
      const real: ChangeLog = new SqlChangeLog(sql, { pollIntervalMs: 50 });
      return new Proxy(real, {
        get(target, key, receiver) {
          if (key === 'append') {
            return (changeSets: Parameters<ChangeLog['append']>[0]) => {
              if (logDown) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9092'));
              return target.append(changeSets);
            };
          }
          const value = Reflect.get(target, key, receiver) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  });
  blobDir = await mkdtemp(join(tmpdir(), 'keney-dicom-record-'));
  dicom = await DicomService.create({ sql: t.sql, blobs: new FsBlobStore(blobDir), migrate: false });
  recorder = new StudyRecorder({ store: t.store, index: dicom.index, sql: t.sql }, { outcomeTimeoutMs: 10_000 });
  dicom.onInstanceStored((event) => recorder.record(event).then(projected));
});

afterAll(async () => {
  await dicom?.stop();
  await t?.close();
  await rm(blobDir, { recursive: true, force: true });
});

afterEach(() => {
  logDown = false;
});

async function search<T extends Resource>(type: string, params: Record<string, string>): Promise<T[]> {
  const result = await t.store.search(parseSearch(type, new URLSearchParams(params), { strict: true }));
  return result.matches.map((m) => JSON.parse(m.content) as T);
}

/**
 * The recorder answers once the change set is durable, and says whether it was applied within its wait
 * (outcomeTimeoutMs); on a loaded machine it may not be yet. The tests read the record right after, so they
 * wait for the projection here rather than count on it being faster than a timeout.
 */
async function projected(result: RecordResult): Promise<void> {
  if (result.applied) return;
  const [done] = await t.store.outcomes.fetch([result.changeSetId]);
  if (!done) await t.store.outcomes.expect(result.changeSetId, 25_000);
}

const studyOf = (uid: string) => search<ImagingStudy>('ImagingStudy', { identifier: `urn:dicom:uid|urn:oid:${uid}` });

async function put(resource: Resource, url: string): Promise<void> {
  const outcome = await t.store.submit({
    bundle: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource, request: { method: 'PUT', url } }] },
    origin: { kind: OriginKind.Api, actor: 'test' },
  });
  expect(outcome.status).toBe('applied');
}

const receive = (file: Buffer) => dicom.receive({ file, source: { protocol: 'dimse', callingAeTitle: 'CT_SALLE_1' } });

describe('StudyRecorder', () => {
  it('converges on one ImagingStudy with every instance, whatever the concurrency', async () => {
    // The change set built first (from the fewest instances) is made the slowest to reach the log: without the
    // per-study lock it would be appended last and the study would lose instances.
    const slowFirst = new Proxy(t.store, {
      get(target, key, receiver) {
        if (key === 'changeSet') {
          return async (input: Parameters<typeof target.changeSet>[0]) => {
            const imaging = input.bundle.entry!.find((e) => e.resource?.resourceType === 'ImagingStudy')!
              .resource as ImagingStudy;
            await new Promise((r) => setTimeout(r, Math.max(0, 9 - imaging.numberOfInstances!) * 40));
            return target.changeSet(input);
          };
        }
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const racing = new StudyRecorder({ store: slowFirst, index: dicom.index, sql: t.sql });
    const study = syntheticStudy(2, 4, { patientId: 'IPP-CONV', issuer: 'CH-TEST', accession: 'ACC-CONV' });
    await Promise.all(
      study.map(async (i) =>
        racing
          .record(
            await dicom.store.store({ file: i.file, source: { protocol: 'dimse', callingAeTitle: 'CT_SALLE_1' } }),
          )
          .then(projected),
      ),
    );
    const [imaging, ...more] = await studyOf(study[0]!.studyInstanceUid);
    expect(more).toEqual([]);
    expect(imaging!.numberOfInstances).toBe(8);
    expect(imaging!.series!.map((s) => s.numberOfInstances)).toEqual([4, 4]);
    expect(await search<Patient>('Patient', { identifier: 'urn:keney:v2-namespace:CH-TEST|IPP-CONV' })).toHaveLength(1);
    expect(
      await search<ServiceRequest>('ServiceRequest', { identifier: 'urn:keney:dicom:accession|ACC-CONV' }),
    ).toHaveLength(1);

    // Lineage: the Provenance of the latest version names the instance, its sender and the stored bytes.
    const [provenance] = await search<Provenance>('Provenance', {
      target: `ImagingStudy/${imaging!.id}/_history/${imaging!.meta!.versionId}`,
    });
    const ext = (url: string) => provenance!.extension!.find((e) => e.url === url)?.valueString;
    const sop = ext(LINEAGE.controlIdExtension);
    expect(study.map((i) => i.sopInstanceUid)).toContain(sop);
    expect(ext(LINEAGE.senderExtension)).toBe('CT_SALLE_1');
    const stored = await dicom.index.findInstance(sop!);
    expect(ext(LINEAGE.rawSha256Extension)).toBe(stored!.blobSha256);
    expect(provenance!.agent[0]!.who?.identifier).toEqual({ system: LINEAGE.channelSystem, value: 'dicom' });
  });

  it('links the Patient already known by its identifier, without rewriting it', async () => {
    await put(
      {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:keney:v2-namespace:CH-TEST', value: 'IPP-KNOWN' }],
        name: [{ family: 'Martin', given: ['Luc'] }],
        birthDate: '1975-05-05',
      } as Patient,
      'Patient?identifier=urn:keney:v2-namespace:CH-TEST|IPP-KNOWN',
    );
    const [known] = await search<Patient>('Patient', { identifier: 'urn:keney:v2-namespace:CH-TEST|IPP-KNOWN' });
    const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-KNOWN', issuer: 'CH-TEST', name: 'MARTIN^LUC' });
    await receive(instance!.file);
    const [imaging] = await studyOf(instance!.studyInstanceUid);
    expect(imaging!.subject.reference).toBe(`Patient/${known!.id}`);
    const [after] = await search<Patient>('Patient', { identifier: 'urn:keney:v2-namespace:CH-TEST|IPP-KNOWN' });
    expect(after!.meta!.versionId).toBe(known!.meta!.versionId);
    expect(after!.name).toEqual([{ family: 'Martin', given: ['Luc'] }]);
  });

  it('links by INS a Patient known only by its INS, and creates one with every identifier when none is known', async () => {
    const nir = testNir('1690499123456');
    await put(
      {
        resourceType: 'Patient',
        identifier: [{ system: `urn:oid:${INS_TEST_OID}`, value: nir }],
        name: [{ family: 'Bernard' }],
      } as Patient,
      `Patient?identifier=urn:oid:${INS_TEST_OID}|${nir}`,
    );
    const [byIns] = await search<Patient>('Patient', { identifier: `urn:oid:${INS_TEST_OID}|${nir}` });
    const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-NEW-1', issuer: 'CH-TEST', extra: insElements(nir) });
    await receive(instance!.file);
    expect((await studyOf(instance!.studyInstanceUid))[0]!.subject.reference).toBe(`Patient/${byIns!.id}`);

    const other = testNir('2751099123456');
    const [fresh] = syntheticStudy(1, 1, {
      patientId: 'IPP-NEW-2',
      issuer: 'CH-TEST',
      extra: insElements(other),
      name: 'LEROY^ANNE',
    });
    await receive(fresh!.file);
    const [created] = await search<Patient>('Patient', { identifier: 'urn:keney:v2-namespace:CH-TEST|IPP-NEW-2' });
    expect(created!.identifier!.map((i) => `${i.system}|${i.value}`)).toEqual([
      `urn:oid:${INS_TEST_OID}|${other}`,
      'urn:keney:v2-namespace:CH-TEST|IPP-NEW-2',
    ]);
    expect(created!.name).toEqual([{ use: 'official', family: 'LEROY', given: ['ANNE'] }]);
    expect((await studyOf(fresh!.studyInstanceUid))[0]!.subject.reference).toBe(`Patient/${created!.id}`);
    // A later ADT (here the API, by the same identifier) completes that same Patient.
    await put(
      {
        resourceType: 'Patient',
        identifier: created!.identifier,
        name: [{ family: 'Leroy', given: ['Anne'] }],
        birthDate: '1975-10-10',
      } as Patient,
      'Patient?identifier=urn:keney:v2-namespace:CH-TEST|IPP-NEW-2',
    );
    expect(
      await search<Patient>('Patient', {
        identifier: 'urn:keney:v2-namespace:CH-TEST|IPP-NEW-2',
        birthdate: '1975-10-10',
      }),
    ).toHaveLength(1);
  });

  it('links the order the RIS sent by its accession number', async () => {
    await put(
      {
        resourceType: 'ServiceRequest',
        status: 'active',
        intent: 'order',
        identifier: [{ system: 'urn:oid:1.2.250.1.999.7', value: 'RIS-4242' }],
        subject: { display: 'x' },
      } as ServiceRequest,
      'ServiceRequest?identifier=urn:oid:1.2.250.1.999.7|RIS-4242',
    );
    const [order] = await search<ServiceRequest>('ServiceRequest', { identifier: 'urn:oid:1.2.250.1.999.7|RIS-4242' });
    const [instance] = syntheticStudy(1, 1, {
      patientId: 'IPP-ORD',
      issuer: 'CH-TEST',
      accession: 'RIS-4242',
      extra: [
        {
          tag: Tag.IssuerOfAccessionNumberSequence,
          value: [
            [
              { tag: Tag.UniversalEntityID, value: '1.2.250.1.999.7' },
              { tag: Tag.UniversalEntityIDType, value: 'ISO' },
            ],
          ],
        },
      ],
    });
    await receive(instance!.file);
    expect((await studyOf(instance!.studyInstanceUid))[0]!.basedOn![0]!.reference).toBe(`ServiceRequest/${order!.id}`);
    const [unchanged] = await search<ServiceRequest>('ServiceRequest', {
      identifier: 'urn:oid:1.2.250.1.999.7|RIS-4242',
    });
    expect(unchanged!.status).toBe('active');
  });

  it('answers 0xC110 with the reason when the store refuses (two patients share the identifier); the instance stays archived', async () => {
    for (const family of ['Petit', 'Petit-Doublon']) {
      const outcome = await t.store.submit({
        bundle: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            {
              resource: {
                resourceType: 'Patient',
                identifier: [{ system: 'urn:keney:v2-namespace:CH-TEST', value: 'IPP-DUP' }],
                name: [{ family }],
              },
              request: { method: 'POST', url: 'Patient' },
            },
          ],
        } as Bundle,
        origin: { kind: OriginKind.Api, actor: 'test' },
      });
      expect(outcome.status).toBe('applied');
    }
    const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-DUP', issuer: 'CH-TEST' });
    const error = await receive(instance!.file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InstanceProcessingError);
    expect(error).toMatchObject({
      code: RecordErrorCode.Refused,
      status: 0xc110,
      comment: 'Record refused: 2 Patient match its identifiers',
    });
    expect((error as Error).message).toMatch(/If-None-Exist .* matched 2 Patient resources/);
    expect(await dicom.index.findInstance(instance!.sopInstanceUid)).toBeDefined();
    expect(await studyOf(instance!.studyInstanceUid)).toEqual([]);
  });

  it('answers 0xA700 (send again) when the log is down, and records the instance sent again once it is back', async () => {
    const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-DOWN', issuer: 'CH-TEST' });
    logDown = true;
    const error = await receive(instance!.file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: RecordErrorCode.Unavailable,
      status: 0xa700,
      comment: 'Record unavailable, send again later',
    });
    expect(await dicom.index.findInstance(instance!.sopInstanceUid)).toBeDefined();
    logDown = false;
    const again = await receive(instance!.file);
    expect(again.outcome).toBe('unchanged');
    expect(await studyOf(instance!.studyInstanceUid)).toHaveLength(1);
  });

  it('answers success once durable when the projection lags, and the study appears when it catches up', async () => {
    const lagging = new StudyRecorder({ store: t.store, index: dicom.index, sql: t.sql }, { outcomeTimeoutMs: 300 });
    const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-LAG', issuer: 'CH-TEST' });
    const stored = await dicom.store.store({ file: instance!.file, source: { protocol: 'api' } });
    const owned = t.projector.owned();
    await t.projector.revoke(owned);
    let result;
    try {
      result = await lagging.record({ ...stored });
    } finally {
      t.projector.assign(owned);
    }
    expect(result.applied).toBe(false);
    const applied = await t.store.outcomes.expect(result.changeSetId, 10_000);
    expect(applied.status).toBe('applied');
    expect(await studyOf(instance!.studyInstanceUid)).toHaveLength(1);
  });

  it('updates the study when an instance is sent again with new content', async () => {
    const [first] = syntheticStudy(1, 1, { patientId: 'IPP-REPL', issuer: 'CH-TEST' });
    await receive(first!.file);
    const corrected = syntheticInstance({
      ...studyInstance(first!.studyInstanceUid, first!.seriesInstanceUid, 1, 1, {
        patientId: 'IPP-REPL',
        issuer: 'CH-TEST',
        extra: [{ tag: Tag.SeriesDescription, value: 'Corrected series' }],
      }),
      sopInstanceUid: first!.sopInstanceUid,
    });
    expect((await receive(corrected.file)).outcome).toBe('replaced');
    const [imaging] = await studyOf(first!.studyInstanceUid);
    expect(imaging!.numberOfInstances).toBe(1);
    expect(imaging!.series![0]!.description).toBe('Corrected series');
  });
});
