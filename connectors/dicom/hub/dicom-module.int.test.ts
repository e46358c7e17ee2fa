// Acceptance 3 and the record through the whole hub: dcmtk's storescu sends into the running hub's DIMSE port;
// the FHIR API finds the ImagingStudy by patient and DICOMweb gives the instances back. On the embedded profile,
// PostgreSQL, and PostgreSQL + Kafka.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  Binary,
  Bundle,
  DiagnosticReport,
  DocumentReference,
  Endpoint,
  ImagingStudy,
  Patient,
  Provenance,
  Resource,
} from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPart10 } from '../../../adapters/dicom/part10.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import { HUB_PROFILES, type TestHub } from '../../../test/hub-harness.js';
import { hasService } from '../../../test/services.js';
import { parseMultipart, parseMediaType } from '../dicomweb/multipart.js';
import { INS_TEST_OID, insElements, pdfInstance, SAMPLE_PDF, syntheticStudy, testNir } from '../record/test-support.js';
import { runTool } from '../test-support.js';
import { LINEAGE } from '../../../store/fhir/lineage.js';
import type { DicomModule } from './dicom-module.js';
import { adminApi, openDicomHub } from './test-support.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'dicom');

for (const { profile, available } of HUB_PROFILES) {
  describe.skipIf(!hasService('dcmtk') || !available())(`DICOM in the hub (${profile})`, () => {
    let t: TestHub;
    let module: DicomModule;
    let port: number;
    let work: string;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'keney-dicom-hub-'));
      ({ t, dicom: module } = await openDicomHub(profile, work, { channelsDir: join(work, 'no-dicom-channels') }));
      port = module.dimsePort!;
    }, 120_000);
    afterAll(async () => {
      await t?.close();
      if (work) await rm(work, { recursive: true, force: true });
    });

    const fhir = async <T extends Resource>(
      url: string,
      init: { method?: 'GET' | 'POST' | 'PUT'; body?: unknown; headers?: Record<string, string> } = {},
    ) => {
      const response = await t.hub.app.inject({
        method: init.method ?? 'GET',
        url: `/fhir/${url}`,
        headers: { ...t.auth, ...(init.body ? { 'content-type': 'application/fhir+json' } : {}), ...init.headers },
        ...(init.body ? { payload: JSON.stringify(init.body) } : {}),
      });
      return { status: response.statusCode, body: JSON.parse(response.body) as T };
    };
    const searchAll = async <T extends Resource>(query: string): Promise<T[]> => {
      const { status, body } = await fhir<Bundle>(query);
      expect(status, JSON.stringify(body)).toBe(200);
      return (body.entry ?? []).map((e) => e.resource as T);
    };
    const admin = <T>(url: string, method: 'GET' | 'POST' = 'GET', body?: unknown) =>
      adminApi(t).call<T>(url, method, body);
    const storescu = async (files: Buffer[] | string[], ...args: string[]) => {
      const paths: string[] = [];
      for (const [i, file] of files.entries()) {
        if (typeof file === 'string') paths.push(file);
        else {
          const path = join(work, `${Date.now()}-${i}-${Math.random().toString(36).slice(2)}.dcm`);
          await writeFile(path, file);
          paths.push(path);
        }
      }
      return runTool('storescu', [
        '-v',
        '-aet',
        'CT_SALLE_1',
        '-aec',
        'KENEY',
        ...args,
        '127.0.0.1',
        String(port),
        ...paths,
      ]);
    };

    it('acceptance 3: a study stored by storescu is found by GET /fhir/ImagingStudy?patient=… and its instances come back by WADO-RS', async () => {
      const study = syntheticStudy(2, 2, { patientId: 'IPP-A3', issuer: 'CH-TEST', accession: 'ACC-A3' });
      const sent = await storescu(study.map((i) => i.file));
      expect(sent.code, sent.stderr).toBe(0);
      expect(sent.stdout + sent.stderr).not.toMatch(/Failed|Error/i);

      const [patient, ...others] = await searchAll<Patient>('Patient?identifier=urn:keney:v2-namespace:CH-TEST|IPP-A3');
      expect(others).toEqual([]);
      const [imaging, ...more] = await searchAll<ImagingStudy>(`ImagingStudy?patient=${patient!.id}`);
      expect(more).toEqual([]);
      expect(imaging!.identifier).toContainEqual({
        system: 'urn:dicom:uid',
        value: `urn:oid:${study[0]!.studyInstanceUid}`,
      });
      expect(imaging!.subject.reference).toBe(`Patient/${patient!.id}`);
      expect(imaging!.numberOfSeries).toBe(2);
      expect(imaging!.numberOfInstances).toBe(4);
      expect(imaging!.series!.map((s) => s.modality.code)).toEqual(['CT', 'MR']);
      expect(imaging!.series![0]!.bodySite).toEqual({ system: 'http://snomed.info/sct', code: '43799004' });
      expect(imaging!.started).toBe('2024-03-15T10:15:00+01:00');
      expect(imaging!.basedOn![0]!.reference).toMatch(/^ServiceRequest\//);
      // The endpoint: our DICOMweb.
      expect(imaging!.endpoint).toEqual([{ reference: 'Endpoint/keney-dicomweb' }]);
      const { body: endpoint } = await fhir<Endpoint>('Endpoint/keney-dicomweb');
      expect(endpoint.address).toBe('/dicomweb');
      expect(endpoint.connectionType.code).toBe('dicom-wado-rs');

      // WADO-RS: every instance, its data set byte for byte as storescu sent it.
      const wado = await t.hub.app.inject({
        method: 'GET',
        url: `/dicomweb/studies/${study[0]!.studyInstanceUid}`,
        headers: { ...t.auth, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      });
      expect(wado.statusCode).toBe(200);
      const parts = parseMultipart(
        wado.rawPayload,
        parseMediaType(wado.headers['content-type'] as string).params.boundary!,
      );
      expect(parts).toHaveLength(4);
      const byUid = new Map(
        parts.map((p) => {
          const file = readPart10(p.body);
          return [file.dataSet.string(Tag.SOPInstanceUID)!, p.body.subarray(file.dataSetOffset)];
        }),
      );
      for (const instance of study) expect(byUid.get(instance.sopInstanceUid)!.equals(instance.dataSet)).toBe(true);

      // Each instance is a message of the (built-in) DICOM channel, and the Provenance of each change leads to it.
      const listed = await admin<{
        messages: { id: string; status: string; messageType: string; controlId: string; sender: string }[];
      }>(`/admin/messages?channel=dicom&text=${encodeURIComponent('acc-a3')}`);
      expect(listed.messages.map((m) => m.controlId).sort()).toEqual(study.map((i) => i.sopInstanceUid).sort());
      expect(listed.messages.every((m) => m.status === 'sent' && m.sender === 'CT_SALLE_1')).toBe(true);
      expect(listed.messages.map((m) => m.messageType).sort()).toEqual([
        'DICOM^CT',
        'DICOM^CT',
        'DICOM^MR',
        'DICOM^MR',
      ]);
      const provenance = await searchAll<Provenance>(`Provenance?target=ImagingStudy/${imaging!.id}`);
      expect(provenance.length).toBe(4);
      const sources = provenance.map((p) => p.entity?.[0]?.what.identifier);
      expect(sources.every((i) => i?.system === LINEAGE.messageSystem)).toBe(true);
      expect(sources.map((i) => i!.value).sort()).toEqual(listed.messages.map((m) => m.id).sort());
      const raw = await t.hub.app.inject({
        method: 'GET',
        url: `/admin/messages/${listed.messages[0]!.id}/raw`,
        headers: t.auth,
      });
      expect(readPart10(raw.rawPayload).dataSet.string(Tag.SOPInstanceUID)).toBe(listed.messages[0]!.controlId);

      // The read was audited, with the patient whose data it was.
      const audit = await t.hub.app.inject({
        method: 'GET',
        url: `/admin/audit?patient=${patient!.id}`,
        headers: t.auth,
      });
      const events = (JSON.parse(audit.body) as { events: { action: string; query: string }[] }).events;
      expect(
        events.some((e) => e.action === 'read' && e.query.includes(`/dicomweb/studies/${study[0]!.studyInstanceUid}`)),
      ).toBe(true);
    });

    it('asks DICOMweb callers for a token like /fhir, and a read-only token cannot store', async () => {
      const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-AUTH', issuer: 'CH-TEST' });
      const anonymous = await t.hub.app.inject({ method: 'GET', url: `/dicomweb/studies?PatientID=IPP-AUTH` });
      expect(anonymous.statusCode).toBe(401);
      expect(JSON.parse(anonymous.body).error.code).toBe('DICOMWEB_UNAUTHORIZED');
      expect(anonymous.headers['www-authenticate']).toMatch(/Bearer/);
      const reader = await t.hub.context.tokens.create('viewer', ['read']);
      const boundary = 'keney-test-boundary';
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
        instance!.file,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const headers = { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` };
      const refused = await t.hub.app.inject({
        method: 'POST',
        url: '/dicomweb/studies',
        headers: { ...headers, authorization: `Bearer ${reader.token}` },
        payload: body,
      });
      expect(refused.statusCode).toBe(403);
      expect(JSON.parse(refused.body).error.code).toBe('DICOMWEB_FORBIDDEN');
      const stored = await t.hub.app.inject({
        method: 'POST',
        url: '/dicomweb/studies',
        headers: { ...headers, ...t.auth },
        payload: body,
      });
      expect(stored.statusCode).toBe(200);
      // STOW-RS feeds the record too.
      const [patient] = await searchAll<Patient>('Patient?identifier=urn:keney:v2-namespace:CH-TEST|IPP-AUTH');
      expect(await searchAll<ImagingStudy>(`ImagingStudy?patient=${patient!.id}`)).toHaveLength(1);
      const qido = await t.hub.app.inject({
        method: 'GET',
        url: '/dicomweb/studies?PatientID=IPP-AUTH',
        headers: { authorization: `Bearer ${reader.token}` },
      });
      expect(qido.statusCode).toBe(200);
      expect(JSON.parse(qido.body)).toHaveLength(1);
    });

    it('links the study to the Patient created first through the FHIR API with the same identifier (INS)', async () => {
      const nir = testNir('2850675123456');
      const created = await fhir<Patient>('Patient', {
        method: 'POST',
        body: {
          resourceType: 'Patient',
          identifier: [{ system: `urn:oid:${INS_TEST_OID}`, value: nir }],
          name: [{ family: 'Garnier', given: ['Élise'] }],
          birthDate: '1985-06-01',
        },
      });
      expect(created.status).toBe(201);
      const study = syntheticStudy(1, 2, {
        patientId: 'IPP-RIS-77',
        issuer: 'CH-TEST',
        extra: insElements(nir),
        name: 'GARNIER^ELISE',
      });
      expect((await storescu(study.map((i) => i.file))).code).toBe(0);
      const [imaging] = await searchAll<ImagingStudy>(`ImagingStudy?patient=${created.body.id}`);
      expect(imaging!.numberOfInstances).toBe(2);
      // No second patient, and the one the API created is unchanged.
      expect(await searchAll<Patient>('Patient?identifier=urn:keney:v2-namespace:CH-TEST|IPP-RIS-77')).toEqual([]);
      const { body: after } = await fhir<Patient>(`Patient/${created.body.id}`);
      expect(after.meta?.versionId).toBe(created.body.meta?.versionId);
    });

    it('keeps names in their character sets end to end (Latin-1, Cyrillic, ISO 2022 Japanese, UTF-8)', async () => {
      const files = ['chrFren.dcm', 'chrRuss.dcm', 'chrJapMulti.dcm', 'chrX1.dcm'].map((f) => join(FIXTURES, f));
      const sent = await storescu(files, '-xs');
      expect(sent.code, sent.stdout + sent.stderr).toBe(0);
      const nameOf = async (id: string) =>
        (await searchAll<Patient>(`Patient?identifier=urn:keney:dicom:patient-id|${id}`))[0]?.name?.[0];
      expect(await nameOf('SCSFREN')).toMatchObject({ family: 'Buc', given: ['Jérôme'] });
      expect(await nameOf('SCSRUSS')).toMatchObject({ family: 'Люкceмбypг' });
      expect(await nameOf('2008-4')).toMatchObject({ family: 'やまだ', given: ['たろう'] });
      expect(await nameOf('X1EXAMPLE')).toMatchObject({ family: 'Wang', given: ['XiaoDong'] });
      // Searchable as a user types it (accents and case ignored).
      const found = await searchAll<Patient>('Patient?name=jerome');
      expect(found.map((p) => p.identifier?.[0]?.value)).toContain('SCSFREN');
    });

    it('makes a Structured Report a DiagnosticReport and an encapsulated PDF a DocumentReference with its Binary', async () => {
      const sr = join(FIXTURES, 'test-SR.dcm');
      expect((await storescu([sr])).code).toBe(0);
      const srUid = readPart10(await import('node:fs').then((fs) => fs.readFileSync(sr))).dataSet.string(
        Tag.SOPInstanceUID,
      )!;
      const [report] = await searchAll<DiagnosticReport>(`DiagnosticReport?identifier=urn:dicom:uid|urn:oid:${srUid}`);
      expect(report!.imagingStudy![0]!.reference).toMatch(/^ImagingStudy\//);
      expect(report!.subject!.reference).toMatch(/^Patient\//);
      expect(Buffer.from(report!.presentedForm![0]!.data!, 'base64').toString('utf8')).toMatch(/\w+/);

      const [image] = syntheticStudy(1, 1, { patientId: 'IPP-PDF', issuer: 'CH-TEST', accession: 'ACC-PDF' });
      const pdf = pdfInstance(image!.studyInstanceUid, {
        patientId: 'IPP-PDF',
        issuer: 'CH-TEST',
        accession: 'ACC-PDF',
      });
      expect((await storescu([image!.file, pdf.file])).code).toBe(0);
      const [document] = await searchAll<DocumentReference>(
        `DocumentReference?identifier=urn:dicom:uid|urn:oid:${pdf.sopInstanceUid}`,
      );
      const [imaging] = await searchAll<ImagingStudy>(
        `ImagingStudy?identifier=urn:dicom:uid|urn:oid:${image!.studyInstanceUid}`,
      );
      expect(document!.context!.related![0]!.reference).toBe(`ImagingStudy/${imaging!.id}`);
      expect(document!.subject!.reference).toBe(imaging!.subject.reference);
      expect(imaging!.numberOfInstances).toBe(2);
      const { status, body: binary } = await fhir<Binary>(document!.content[0]!.attachment.url!, {
        headers: { accept: 'application/fhir+json' },
      });
      expect(status).toBe(200);
      expect(Buffer.from(binary.data!, 'base64').equals(SAMPLE_PDF)).toBe(true);
    });

    it('answers storescu an error status with the reason when the record refuses the instance, and keeps it archived', async () => {
      for (const family of ['Roux', 'Roux-Doublon']) {
        const created = await fhir<Patient>('Patient', {
          method: 'POST',
          body: {
            resourceType: 'Patient',
            identifier: [{ system: 'urn:keney:v2-namespace:CH-TEST', value: 'IPP-TWICE' }],
            name: [{ family }],
          },
        });
        expect(created.status).toBe(201);
      }
      const [instance] = syntheticStudy(1, 1, { patientId: 'IPP-TWICE', issuer: 'CH-TEST' });
      const sent = await storescu([instance!.file], '-d'); // -d prints the response's Error Comment
      const output = sent.stdout + sent.stderr;
      expect(output).toMatch(/DIMSE Status\s*: 0xc110: Error: Cannot understand/);
      expect(output).toMatch(/Record refused: 2 Patient match its identifiers/);
      expect(
        await searchAll<ImagingStudy>(`ImagingStudy?identifier=urn:dicom:uid|urn:oid:${instance!.studyInstanceUid}`),
      ).toEqual([]);
      const qido = await t.hub.app.inject({
        method: 'GET',
        url: `/dicomweb/studies?StudyInstanceUID=${instance!.studyInstanceUid}`,
        headers: t.auth,
      });
      expect(JSON.parse(qido.body)).toHaveLength(1);
    });

    it('says on /admin/dicom whether DIMSE listens and what the archive holds', async () => {
      const response = await t.hub.app.inject({ method: 'GET', url: '/admin/dicom', headers: t.auth });
      expect(response.statusCode).toBe(200);
      const status = JSON.parse(response.body);
      expect(status).toMatchObject({
        aeTitle: 'KENEY',
        dimse: { listening: true, port, error: null },
        dicomweb: '/dicomweb',
      });
      expect(status.archive.instances).toBeGreaterThan(0);
      const ready = await t.hub.app.inject({ method: 'GET', url: '/readyz' });
      expect(JSON.parse(ready.body).checks.dicom).toBe('ok');
    });
  });
}
