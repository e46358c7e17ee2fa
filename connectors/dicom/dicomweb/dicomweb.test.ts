// DICOMweb round trips through Fastify's inject (no socket): STOW-RS, QIDO-RS, WADO-RS, and hostile input.
import Fastify, { type FastifyInstance } from 'fastify';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPart10 } from '../../../adapters/dicom/part10.js';
import { corpusFile, syntheticInstance } from '../../../adapters/dicom/test-support.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import { openTestDicom, type TestDicom } from '../test-support.js';
import { buildMultipart, parseMediaType, parseMultipart } from './multipart.js';
import { dicomWebPlugin } from './plugin.js';

const PREFIX = '/dicomweb';
const STOW_TYPE = (boundary: string) => `multipart/related; type="application/dicom"; boundary=${boundary}`;

type Json = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string }>;

describe('DICOMweb plugin', () => {
  let dicom: TestDicom;
  let app: FastifyInstance;
  const dupont = syntheticInstance({
    extra: [
      { tag: Tag.PatientName, value: 'Dupont^Hélène' },
      { tag: Tag.StudyDate, value: '20240315' },
    ],
  });
  const durand = syntheticInstance({
    extra: [
      { tag: Tag.PatientName, value: 'Durand^Jean' },
      { tag: Tag.StudyDate, value: '20231102' },
      { tag: Tag.Modality, value: 'CT' },
    ],
  });
  const mrSmall = corpusFile('pydicom/MR_small.dcm');
  const jpeg2000 = corpusFile('pydicom/JPEG2000.dcm');

  const stow = (files: Buffer[], url = `${PREFIX}/studies`, contentType?: string) => {
    const { body, boundary } = buildMultipart(files.map((file) => ({ contentType: 'application/dicom', body: file })));
    return app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': contentType ?? STOW_TYPE(boundary) },
      payload: body,
    });
  };

  beforeAll(async () => {
    dicom = await openTestDicom();
    app = Fastify();
    await app.register(dicomWebPlugin, { service: dicom.service, prefix: PREFIX });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await dicom?.close();
  });

  describe('STOW-RS', () => {
    it('stores Part-10 files and answers the references with retrieve URLs (200)', async () => {
      const response = await stow([dupont.file, durand.file, mrSmall, jpeg2000]);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/application\/dicom\+json/);
      const body = response.json() as Json;
      const refs = body['00081199']!.Value as Json[];
      expect(refs.map((r) => r['00081155']!.Value![0])).toEqual([
        dupont.sopInstanceUid,
        durand.sopInstanceUid,
        readPart10(mrSmall).dataSet.string(Tag.SOPInstanceUID),
        readPart10(jpeg2000).dataSet.string(Tag.SOPInstanceUID),
      ]);
      expect(refs[0]!['00081190']!.Value![0]).toBe(
        `http://localhost:80${PREFIX}/studies/${dupont.studyInstanceUid}/series/${dupont.seriesInstanceUid}/instances/${dupont.sopInstanceUid}`,
      );
    });

    it('stores what it can and lists the rest with a failure reason (202)', async () => {
      const good = syntheticInstance({ extra: [{ tag: Tag.PatientName, value: 'Autre^Patient' }] });
      const truncated = syntheticInstance().file.subarray(0, 300);
      const response = await stow([good.file, truncated, Buffer.from('not dicom at all')]);
      expect(response.statusCode).toBe(202);
      const body = response.json() as Json;
      expect(body['00081199']!.Value as Json[]).toHaveLength(1);
      const failed = body['00081198']!.Value as Json[];
      expect(failed.map((f) => f['00081197']!.Value![0])).toEqual([0xc000, 0xc000]);
      expect(response.headers.warning).toMatch(/part 2: .*declares|part 2: .*ends/);
      expect(response.headers.warning).toMatch(/part 3: Not a DICOM Part-10 file/);
    });

    it('refuses an instance of another study than the URL names (409, reason C409)', async () => {
      const other = syntheticInstance({ extra: [{ tag: Tag.PatientName, value: 'Autre^Patient' }] });
      const response = await stow([other.file], `${PREFIX}/studies/1.2.3.4`);
      expect(response.statusCode).toBe(409);
      const failed = (response.json() as Json)['00081198']!.Value as Json[];
      expect(failed[0]!['00081197']!.Value![0]).toBe(0xc409);
    });

    it('refuses a body whose boundary is not the declared one (400, says which)', async () => {
      const { body } = buildMultipart([{ contentType: 'application/dicom', body: dupont.file }], 'actual-boundary');
      const response = await app.inject({
        method: 'POST',
        url: `${PREFIX}/studies`,
        headers: { 'content-type': STOW_TYPE('declared-boundary') },
        payload: body,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.message).toContain('does not contain the boundary "declared-boundary"');
    });

    it('refuses an invalid boundary, a missing boundary, a truncated body and a wrong media type', async () => {
      const { body, boundary } = buildMultipart([{ contentType: 'application/dicom', body: dupont.file }]);
      const bad = await app.inject({
        method: 'POST',
        url: `${PREFIX}/studies`,
        headers: { 'content-type': STOW_TYPE('x'.repeat(80)) },
        payload: body,
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.message).toMatch(/boundary .* is not valid/);
      const none = await app.inject({
        method: 'POST',
        url: `${PREFIX}/studies`,
        headers: { 'content-type': 'multipart/related; type="application/dicom"' },
        payload: body,
      });
      expect(none.statusCode).toBe(400);
      expect(none.json().error.message).toMatch(/no boundary/);
      const cut = await app.inject({
        method: 'POST',
        url: `${PREFIX}/studies`,
        headers: { 'content-type': STOW_TYPE(boundary) },
        payload: body.subarray(0, body.length - 40),
      });
      expect(cut.statusCode).toBe(400);
      expect(cut.json().error.message).toMatch(/truncated/);
      const json = await app.inject({
        method: 'POST',
        url: `${PREFIX}/studies`,
        headers: { 'content-type': 'application/json' },
        payload: '{}',
      });
      expect(json.statusCode).toBe(415);
      const xml = await app.inject({
        method: 'POST',
        url: `${PREFIX}/studies`,
        headers: { 'content-type': `multipart/related; type="application/dicom+xml"; boundary=${boundary}` },
        payload: body,
      });
      expect(xml.statusCode).toBe(415);
    });
  });

  it('refuses a STOW-RS body over the configured size with 413 and what to do', async () => {
    const small = Fastify();
    await small.register(dicomWebPlugin, { service: dicom.service, prefix: PREFIX, maxStowBytes: 1000 });
    try {
      const { body, boundary } = buildMultipart([{ contentType: 'application/dicom', body: mrSmall }]);
      expect(body.length).toBeGreaterThan(1000);
      const response = await small.inject({
        method: 'POST',
        url: `${PREFIX}/studies`,
        headers: { 'content-type': STOW_TYPE(boundary) },
        payload: body,
      });
      expect(response.statusCode).toBe(413);
      expect(response.json().error.message).toMatch(/over 1000 bytes: send fewer instances per request/);
    } finally {
      await small.close();
    }
  });

  describe('QIDO-RS', () => {
    const studies = async (query: string) => {
      const response = await app.inject({ method: 'GET', url: `${PREFIX}/studies?${query}` });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as Json[];
    };
    const uidsOf = (rows: Json[]) => rows.map((r) => r['0020000D']!.Value![0]);

    it('matches on keywords, wildcards and date ranges, and returns the study attributes', async () => {
      expect(uidsOf(await studies('PatientName=Dup*'))).toEqual([dupont.studyInstanceUid]);
      expect(uidsOf(await studies('00100010=dur*'))).toEqual([durand.studyInstanceUid]);
      expect(uidsOf(await studies('StudyDate=20231101-20231130'))).toEqual([durand.studyInstanceUid]);
      expect(uidsOf(await studies('ModalitiesInStudy=CT'))).toEqual([durand.studyInstanceUid]);
      const [row] = await studies(`StudyInstanceUID=${dupont.studyInstanceUid}`);
      expect(row!['00100010']!.Value).toEqual([{ Alphabetic: 'Dupont^Hélène' }]);
      expect(row!['00201208']!.Value).toEqual([1]);
      expect(row!['00080061']!.Value).toEqual(['OT']);
    });

    it('matches names fuzzily (accents, case, word starts) only when asked', async () => {
      expect(await studies('PatientName=helene')).toEqual([]);
      expect(uidsOf(await studies('PatientName=helene&fuzzymatching=true'))).toEqual([dupont.studyInstanceUid]);
      expect(uidsOf(await studies('PatientName=HEL%20dup&fuzzymatching=true'))).toEqual([dupont.studyInstanceUid]);
      expect(await studies('PatientName=elene&fuzzymatching=true')).toEqual([]);
    });

    it('pages with limit and offset without overlap', async () => {
      const all = uidsOf(await studies('limit=100'));
      expect(all.length).toBeGreaterThanOrEqual(4);
      const pages = [
        ...uidsOf(await studies('limit=2&offset=0')),
        ...uidsOf(await studies('limit=2&offset=2')),
        ...uidsOf(await studies(`limit=100&offset=4`)),
      ];
      expect(pages).toEqual(all);
    });

    it('queries series and instances, within a study or across', async () => {
      const series = await app.inject({ method: 'GET', url: `${PREFIX}/studies/${dupont.studyInstanceUid}/series` });
      expect((series.json() as Json[]).map((s) => s['0020000E']!.Value![0])).toEqual([dupont.seriesInstanceUid]);
      const instances = await app.inject({
        method: 'GET',
        url: `${PREFIX}/instances?SOPInstanceUID=${durand.sopInstanceUid}&includefield=PatientName`,
      });
      const [instance] = instances.json() as Json[];
      expect(instance!['00100010']!.Value).toEqual([{ Alphabetic: 'Durand^Jean' }]);
      expect(instance!['00081190']!.Value![0]).toContain(`/instances/${durand.sopInstanceUid}`);
      const byModality = await app.inject({ method: 'GET', url: `${PREFIX}/series?Modality=MR` });
      expect((byModality.json() as Json[]).length).toBe(1);
    });

    it('answers bad queries with 400 and a message saying what to fix', async () => {
      const unknown = await app.inject({ method: 'GET', url: `${PREFIX}/studies?PatientNom=x` });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().error.message).toMatch(/Unknown query key "PatientNom"/);
      const badDate = await app.inject({ method: 'GET', url: `${PREFIX}/studies?StudyDate=yesterday` });
      expect(badDate.statusCode).toBe(400);
      expect(badDate.json().error.message).toMatch(/YYYYMMDD/);
      const badLimit = await app.inject({ method: 'GET', url: `${PREFIX}/studies?limit=-3` });
      expect(badLimit.statusCode).toBe(400);
    });

    it('warns about matching keys it ignores', async () => {
      const response = await app.inject({ method: 'GET', url: `${PREFIX}/studies?Manufacturer=GE` });
      expect(response.statusCode).toBe(200);
      expect(response.headers.warning).toMatch(/not supported for matching.*Manufacturer/);
    });
  });

  describe('WADO-RS', () => {
    const base = () =>
      `${PREFIX}/studies/${dupont.studyInstanceUid}/series/${dupont.seriesInstanceUid}/instances/${dupont.sopInstanceUid}`;

    it('retrieves the instance as stored, byte for byte, in multipart/related', async () => {
      const response = await app.inject({
        method: 'GET',
        url: base(),
        headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      });
      expect(response.statusCode).toBe(200);
      const media = parseMediaType(response.headers['content-type'] as string);
      const parts = parseMultipart(response.rawPayload, media.params.boundary!);
      expect(parts).toHaveLength(1);
      expect(parts[0]!.body.equals(dupont.file)).toBe(true);
      const study = await app.inject({ method: 'GET', url: `${PREFIX}/studies/${dupont.studyInstanceUid}` });
      expect(study.statusCode).toBe(200);
    });

    it('does not pretend to transcode: another transfer syntax is 406', async () => {
      const response = await app.inject({
        method: 'GET',
        url: base(),
        headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50' },
      });
      expect(response.statusCode).toBe(406);
      expect(response.json().error.message).toMatch(/does not transcode/);
    });

    it('serves metadata as DICOM JSON with bulk data URIs, and the bulk data behind them', async () => {
      const response = await app.inject({ method: 'GET', url: `${base()}/metadata` });
      const [meta] = response.json() as Json[];
      expect(meta!['00100010']!.Value).toEqual([{ Alphabetic: 'Dupont^Hélène' }]);
      const uri = meta!['7FE00010']!.BulkDataURI!;
      expect(uri).toMatch(/\/bulkdata\/7FE00010$/);
      const bulk = await app.inject({ method: 'GET', url: new URL(uri).pathname });
      const parts = parseMultipart(
        bulk.rawPayload,
        parseMediaType(bulk.headers['content-type'] as string).params.boundary!,
      );
      expect([...parts[0]!.body]).toEqual(Array.from({ length: 16 }, (_, i) => i * 16));
    });

    it('serves frames: raw for uncompressed, the compressed bitstream otherwise', async () => {
      const raw = await app.inject({ method: 'GET', url: `${base()}/frames/1` });
      expect(raw.headers['content-type']).toMatch(/type="application\/octet-stream"/);
      const rawParts = parseMultipart(
        raw.rawPayload,
        parseMediaType(raw.headers['content-type'] as string).params.boundary!,
      );
      expect(rawParts[0]!.body).toHaveLength(16);
      const j2k = readPart10(jpeg2000).dataSet;
      const url = `${PREFIX}/studies/${j2k.string(Tag.StudyInstanceUID)}/series/${j2k.string(Tag.SeriesInstanceUID)}/instances/${j2k.string(Tag.SOPInstanceUID)}`;
      const compressed = await app.inject({ method: 'GET', url: `${url}/frames/1` });
      expect(compressed.headers['content-type']).toMatch(/type="image\/jp2"/);
      const parts = parseMultipart(
        compressed.rawPayload,
        parseMediaType(compressed.headers['content-type'] as string).params.boundary!,
      );
      expect(parts[0]!.body.subarray(0, 4).toString('hex')).toBe('ff4fff51'); // J2K codestream SOC + SIZ
      expect((await app.inject({ method: 'GET', url: `${url}/frames/2` })).statusCode).toBe(404);
    });

    it('renders PNG and JPEG thumbnails, and says clearly when it cannot', async () => {
      const png = await app.inject({ method: 'GET', url: `${base()}/rendered`, headers: { accept: 'image/png' } });
      expect(png.headers['content-type']).toBe('image/png');
      expect(png.rawPayload.subarray(1, 4).toString()).toBe('PNG');
      // The IDAT of a 4x4 gray image: filter byte + the 4 pixels of each row, windowed to 0..255.
      const idat = png.rawPayload.indexOf('IDAT');
      const length = png.rawPayload.readUInt32BE(idat - 4);
      const pixels = inflateSync(png.rawPayload.subarray(idat + 4, idat + 4 + length));
      expect([...pixels.subarray(1, 5)]).toEqual([0, 17, 34, 51]);
      const jpeg = await app.inject({ method: 'GET', url: `${base()}/thumbnail`, headers: { accept: 'image/jpeg' } });
      expect(jpeg.headers['content-type']).toBe('image/jpeg');
      expect(jpeg.rawPayload.subarray(0, 2).toString('hex')).toBe('ffd8');
      const j2k = readPart10(jpeg2000).dataSet;
      const notRenderable = await app.inject({
        method: 'GET',
        url: `${PREFIX}/studies/${j2k.string(Tag.StudyInstanceUID)}/series/${j2k.string(Tag.SeriesInstanceUID)}/instances/${j2k.string(Tag.SOPInstanceUID)}/thumbnail`,
      });
      expect(notRenderable.statusCode).toBe(406);
      expect(notRenderable.json().error).toMatchObject({ code: 'DICOMWEB_NOT_RENDERABLE' });
      expect(notRenderable.json().error.message).toMatch(/JPEG 2000/);
    });

    it('answers 404 for what is not here', async () => {
      const response = await app.inject({
        method: 'GET',
        url: `${PREFIX}/studies/1.2.3/series/4.5.6/instances/7.8.9/metadata`,
      });
      expect(response.statusCode).toBe(404);
      expect(response.json().error.message).toMatch(/No instance 7\.8\.9/);
    });
  });
});
