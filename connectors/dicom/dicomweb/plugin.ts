// DICOMweb (PS3.18) as a Fastify plugin: STOW-RS, QIDO-RS, WADO-RS (instances, metadata, bulk data,
// frames, rendered and thumbnail). Mount it with a prefix: app.register(dicomWebPlugin, { service, prefix: '/dicomweb' }).
// Errors are JSON { error: { code, message } } with a message that says what to change.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { DicomError, DicomErrorCode } from '../../../adapters/dicom/errors.js';
import { elementAtPath, toDicomJson, type DicomJson } from '../../../adapters/dicom/json-model.js';
import { tagOf, hexTag, keywordOf } from '../../../adapters/dicom/dictionary.js';
import { readPart10, type Part10File } from '../../../adapters/dicom/part10.js';
import { encapsulatedFrames, imageInfo } from '../../../adapters/dicom/render/pixel-data.js';
import { RenderFormat, renderFrame } from '../../../adapters/dicom/render/render.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import { transferSyntaxInfo } from '../../../adapters/dicom/uids.js';
import { InstanceProcessingError, type DicomService } from '../dicom-service.js';
import type { IndexedInstance } from '../index/instance-index.js';
import type { QueryLevel } from '../index/levels.js';
import { DEFAULT_RETURN } from '../index/levels.js';
import { QueryError, type Match } from '../index/query.js';
import { StoreError, StoreErrorCode, type InstanceSource } from '../instance-store.js';
import { buildMultipart, MultipartError, parseMediaType, parseMultipart, splitOutsideQuotes } from './multipart.js';

export interface DicomWebOptions {
  service: DicomService;
  /** Absolute base URL of this mount (e.g. https://hub.example/dicomweb) for RetrieveURL / BulkDataURI; default from the request. */
  publicBaseUrl?: string;
  /** Largest STOW-RS body (default 512 MiB). */
  maxStowBytes?: number;
  /** Largest number of instances per STOW-RS request (default 1000). */
  maxStowParts?: number;
  /** Binary values above this size are given as BulkDataURI in metadata (default 1024). */
  bulkDataThreshold?: number;
  /** Largest QIDO-RS page (default and cap 1000). */
  maxQueryLimit?: number;
  /** What the mount knows of a STOW-RS sender (the hub: the authenticated user). */
  sourceOf?: (request: FastifyRequest) => Partial<InstanceSource>;
}

export const DicomWebErrorCode = {
  BadRequest: 'DICOMWEB_BAD_REQUEST',
  NotFound: 'DICOMWEB_NOT_FOUND',
  UnsupportedMediaType: 'DICOMWEB_UNSUPPORTED_MEDIA_TYPE',
  NotAcceptable: 'DICOMWEB_NOT_ACCEPTABLE',
  NotRenderable: 'DICOMWEB_NOT_RENDERABLE',
  Conflict: 'DICOMWEB_CONFLICT',
  Unavailable: 'DICOMWEB_UNAVAILABLE',
} as const;
export type DicomWebErrorCode = (typeof DicomWebErrorCode)[keyof typeof DicomWebErrorCode];

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: DicomWebErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const DICOM_JSON = 'application/dicom+json';
const RESERVED_QUERY_KEYS = new Set(['limit', 'offset', 'fuzzymatching', 'includefield', 'orderby']);

/** STOW-RS failure reasons (PS3.18 Table 10.5.3-1 / PS3.4 C-STORE statuses). */
const FailureReason = {
  ProcessingFailure: 0x0110,
  NoSuchSopClass: 0x0122,
  DataSetDoesNotMatch: 0xa900,
  CannotUnderstand: 0xc000,
  OutOfResources: 0xa700,
  Duplicate: 0x0111,
  WrongStudy: 0xc409,
} as const;

function failureReasonOf(error: unknown): number {
  if (error instanceof StoreError) {
    switch (error.code) {
      case StoreErrorCode.Invalid:
        return (error.cause as DicomError | undefined)?.code === DicomErrorCode.MissingAttribute
          ? FailureReason.DataSetDoesNotMatch
          : FailureReason.CannotUnderstand;
      case StoreErrorCode.Mismatch:
        return FailureReason.DataSetDoesNotMatch;
      case StoreErrorCode.NotStorage:
        return FailureReason.NoSuchSopClass;
      case StoreErrorCode.TooLarge:
      case StoreErrorCode.Unavailable:
        return FailureReason.OutOfResources;
      case StoreErrorCode.Conflict:
        return FailureReason.Duplicate;
      default:
        error.code satisfies never;
    }
  }
  if (error instanceof InstanceProcessingError) return error.status;
  return FailureReason.ProcessingFailure;
}

function parseQueryParams(
  query: Record<string, string | string[] | undefined>,
  maxLimit: number,
): { matches: Match[]; includeAll: boolean; include: number[]; limit: number; offset: number; fuzzy: boolean } {
  const matches: Match[] = [];
  const include: number[] = [];
  let includeAll = false;
  const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value[value.length - 1] : value);
  const all = (value: string | string[] | undefined) =>
    value === undefined ? [] : Array.isArray(value) ? value : [value];
  const number = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new HttpError(
        400,
        DicomWebErrorCode.BadRequest,
        `${name}=${JSON.stringify(value)} is not a non-negative integer`,
      );
    return n;
  };
  for (const [key, raw] of Object.entries(query)) {
    if (RESERVED_QUERY_KEYS.has(key.toLowerCase())) continue;
    const tag = tagOf(key);
    if (tag === undefined) {
      throw new HttpError(
        400,
        DicomWebErrorCode.BadRequest,
        `Unknown query key ${JSON.stringify(key)}: use a DICOM keyword (PatientName) or an 8-digit hex tag (00100010)`,
      );
    }
    matches.push({ tag, value: all(raw).join('\\') });
  }
  for (const value of all(query.includefield)) {
    for (const field of value
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean)) {
      if (field === 'all') {
        includeAll = true;
        continue;
      }
      const tag = tagOf(field);
      if (tag === undefined)
        throw new HttpError(
          400,
          DicomWebErrorCode.BadRequest,
          `Unknown includefield ${JSON.stringify(field)}: use a keyword, an 8-digit hex tag or "all"`,
        );
      include.push(tag);
    }
  }
  const limit = Math.min(number('limit', one(query.limit), maxLimit), maxLimit);
  const offset = number('offset', one(query.offset), 0);
  const fuzzyText = one(query.fuzzymatching);
  if (fuzzyText !== undefined && fuzzyText !== 'true' && fuzzyText !== 'false') {
    throw new HttpError(
      400,
      DicomWebErrorCode.BadRequest,
      `fuzzymatching must be true or false, not ${JSON.stringify(fuzzyText)}`,
    );
  }
  return { matches, includeAll, include, limit, offset, fuzzy: fuzzyText === 'true' };
}

/** Media types the client accepts, in preference order (q values respected). */
function acceptList(header: string | undefined): Array<{ type: string; params: Record<string, string> }> {
  if (!header) return [];
  return splitOutsideQuotes(header, ',')
    .map((part) => parseMediaType(part))
    .map((m, i) => ({ ...m, q: m.params.q !== undefined ? Number(m.params.q) : 1, i }))
    .filter((m) => m.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
}

export const dicomWebPlugin: FastifyPluginAsync<DicomWebOptions> = async (
  app: FastifyInstance,
  options: DicomWebOptions,
) => {
  const service = options.service;
  const maxLimit = options.maxQueryLimit ?? 1000;
  const prefix = app.prefix;

  app.addContentTypeParser(
    'multipart/related',
    { parseAs: 'buffer', bodyLimit: options.maxStowBytes ?? 512 << 20 },
    (_request, body, done) => done(null, body),
  );

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof HttpError)
      return reply.code(error.statusCode).send({ error: { code: error.code, message: error.message } });
    if (error instanceof QueryError)
      return reply.code(400).send({ error: { code: DicomWebErrorCode.BadRequest, message: error.message } });
    if (error instanceof MultipartError)
      return reply.code(400).send({ error: { code: DicomWebErrorCode.BadRequest, message: error.message } });
    if (error instanceof DicomError && error.code === DicomErrorCode.NotRenderable) {
      return reply.code(406).send({ error: { code: DicomWebErrorCode.NotRenderable, message: error.message } });
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({
        error: {
          code: DicomWebErrorCode.BadRequest,
          message: `The request body is over ${options.maxStowBytes ?? 512 << 20} bytes: send fewer instances per request`,
        },
      });
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send({
        error: {
          code: DicomWebErrorCode.UnsupportedMediaType,
          message: 'STOW-RS takes multipart/related; type="application/dicom"',
        },
      });
    }
    if (error.statusCode && error.statusCode < 500)
      return reply
        .code(error.statusCode)
        .send({ error: { code: DicomWebErrorCode.BadRequest, message: error.message } });
    return reply.code(503).send({
      error: {
        code: DicomWebErrorCode.Unavailable,
        message: `The DICOM store failed: ${error.message}; retry later`,
      },
    });
  });

  const baseUrl = (request: FastifyRequest) =>
    options.publicBaseUrl ?? `${request.protocol}://${request.headers.host ?? 'localhost'}${prefix}`;
  const studyUrl = (base: string, study: string) => `${base}/studies/${study}`;
  const seriesUrl = (base: string, study: string, series: string) => `${studyUrl(base, study)}/series/${series}`;
  const instanceUrl = (
    base: string,
    i: Pick<IndexedInstance, 'studyInstanceUid' | 'seriesInstanceUid' | 'sopInstanceUid'>,
  ) => `${seriesUrl(base, i.studyInstanceUid, i.seriesInstanceUid)}/instances/${i.sopInstanceUid}`;

  // ---------------------------------------------------------------- STOW-RS
  const stow = async (request: FastifyRequest<{ Params: { study?: string } }>, reply: FastifyReply) => {
    const contentType = request.headers['content-type'] ?? '';
    const media = parseMediaType(contentType);
    if (media.type !== 'multipart/related') {
      throw new HttpError(
        415,
        DicomWebErrorCode.UnsupportedMediaType,
        `STOW-RS takes multipart/related; type="application/dicom", not ${JSON.stringify(media.type)}`,
      );
    }
    const partType = (media.params.type ?? 'application/dicom').toLowerCase();
    if (partType !== 'application/dicom') {
      throw new HttpError(
        415,
        DicomWebErrorCode.UnsupportedMediaType,
        `Only type="application/dicom" parts (Part-10 files) are accepted, not ${JSON.stringify(partType)}`,
      );
    }
    const boundary = media.params.boundary;
    if (!boundary)
      throw new HttpError(
        400,
        DicomWebErrorCode.BadRequest,
        'Content-Type has no boundary parameter: add boundary=… as in multipart/related; type="application/dicom"; boundary=xyz',
      );
    const body = request.body as Buffer;
    const parts = parseMultipart(body, boundary, { maxParts: options.maxStowParts ?? 1000 });
    if (parts.length === 0)
      throw new HttpError(
        400,
        DicomWebErrorCode.BadRequest,
        'The multipart body has no part: send at least one application/dicom part',
      );
    const base = baseUrl(request);
    const referenced: DicomJson[] = [];
    const failed: DicomJson[] = [];
    const warnings: string[] = [];
    for (const [index, part] of parts.entries()) {
      const type = parseMediaType(part.headers['content-type'] ?? 'application/dicom').type;
      if (type !== 'application/dicom') {
        failed.push({
          '00081197': { vr: 'US', Value: [FailureReason.CannotUnderstand] },
          '00081196': { vr: 'US', Value: [] },
        });
        warnings.push(`part ${index + 1} is ${type}, not application/dicom`);
        continue;
      }
      let sopClassUid = '';
      let sopInstanceUid = '';
      try {
        // Peek at the UIDs first so that a failure can name the instance.
        const file = readPart10(part.body);
        sopClassUid = file.dataSet.string(Tag.SOPClassUID) ?? '';
        sopInstanceUid = file.dataSet.string(Tag.SOPInstanceUID) ?? '';
        const studyUid = file.dataSet.string(Tag.StudyInstanceUID);
        if (request.params.study && studyUid !== request.params.study) {
          throw Object.assign(
            new Error(`The instance belongs to study ${studyUid}, not to ${request.params.study} named in the URL`),
            { failureReason: FailureReason.WrongStudy },
          );
        }
        const stored = await service.receive({
          file: part.body,
          source: {
            protocol: 'stow-rs',
            remoteAddress: request.ip,
            exchangeId: request.id,
            ...options.sourceOf?.(request),
          },
        });
        warnings.push(...stored.identity.warnings);
        referenced.push({
          '00081150': { vr: 'UI', Value: [stored.identity.sopClassUid] },
          '00081155': { vr: 'UI', Value: [stored.identity.sopInstanceUid] },
          '00081190': { vr: 'UR', Value: [instanceUrl(base, stored.identity)] },
        });
      } catch (error) {
        const reason =
          (error as { failureReason?: number }).failureReason ??
          (error instanceof DicomError
            ? error.code === DicomErrorCode.MissingAttribute
              ? FailureReason.DataSetDoesNotMatch
              : FailureReason.CannotUnderstand
            : failureReasonOf(error));
        request.log.warn(
          { part: index + 1, reason: reason.toString(16), message: (error as Error).message },
          'STOW-RS instance refused',
        );
        const item: DicomJson = { '00081197': { vr: 'US', Value: [reason] } };
        if (sopClassUid) item['00081150'] = { vr: 'UI', Value: [sopClassUid] };
        if (sopInstanceUid) item['00081155'] = { vr: 'UI', Value: [sopInstanceUid] };
        failed.push(item);
        warnings.push(`part ${index + 1}: ${(error as Error).message}`);
      }
    }
    const response: DicomJson = {};
    if (request.params.study) response['00081190'] = { vr: 'UR', Value: [studyUrl(base, request.params.study)] };
    if (referenced.length) response['00081199'] = { vr: 'SQ', Value: referenced };
    if (failed.length) response['00081198'] = { vr: 'SQ', Value: failed };
    const status = failed.length === 0 ? 200 : referenced.length === 0 ? 409 : 202;
    if (warnings.length)
      reply.header(
        'Warning',
        warnings.map((w) => `299 keney "${w.replace(/["\\\r\n]/g, ' ').slice(0, 300)}"`).join(', '),
      );
    return reply.code(status).type(DICOM_JSON).send(response);
  };
  app.post('/studies', stow);
  app.post('/studies/:study', stow);

  // ---------------------------------------------------------------- QIDO-RS
  const qido =
    (level: 'STUDY' | 'SERIES' | 'IMAGE') =>
    async (
      request: FastifyRequest<{
        Params: { study?: string; series?: string };
        Querystring: Record<string, string | string[]>;
      }>,
      reply: FastifyReply,
    ) => {
      const params = parseQueryParams(request.query, maxLimit);
      const matches = [...params.matches];
      if (request.params.study) matches.push({ tag: Tag.StudyInstanceUID, value: request.params.study });
      if (request.params.series) matches.push({ tag: Tag.SeriesInstanceUID, value: request.params.series });
      const answer = await service.query({
        level: level as QueryLevel,
        matches,
        fuzzy: params.fuzzy,
        limit: params.limit,
        offset: params.offset,
      });
      const base = baseUrl(request);
      const keep = params.includeAll
        ? undefined
        : new Set([
            ...DEFAULT_RETURN[level].map(hexTag),
            ...params.include.map(hexTag),
            ...params.matches.map((m) => hexTag(m.tag)),
          ]);
      const body = answer.matches.map((match) => {
        const study = match[hexTag(Tag.StudyInstanceUID)]?.Value?.[0] as string;
        const series = match[hexTag(Tag.SeriesInstanceUID)]?.Value?.[0] as string;
        const instance = match[hexTag(Tag.SOPInstanceUID)]?.Value?.[0] as string;
        const url =
          level === 'STUDY'
            ? studyUrl(base, study)
            : level === 'SERIES'
              ? seriesUrl(base, study, series)
              : instanceUrl(base, { studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: instance });
        const out: DicomJson = { ...match, '00081190': { vr: 'UR', Value: [url] } };
        if (!keep) return out;
        return Object.fromEntries(Object.entries(out).filter(([tag]) => keep.has(tag)));
      });
      if (answer.ignored.length) {
        reply.header(
          'Warning',
          `299 keney "These query keys are not supported for matching and were ignored: ${answer.ignored.map((t) => keywordOf(t) ?? hexTag(t)).join(', ')}"`,
        );
      }
      return reply.type(DICOM_JSON).send(body);
    };
  app.get('/studies', qido('STUDY'));
  app.get('/series', qido('SERIES'));
  app.get('/studies/:study/series', qido('SERIES'));
  app.get('/instances', qido('IMAGE'));
  app.get('/studies/:study/instances', qido('IMAGE'));
  app.get('/studies/:study/series/:series/instances', qido('IMAGE'));

  // ---------------------------------------------------------------- WADO-RS
  type Ids = { study: string; series?: string; instance?: string };
  const selected = async (ids: Ids): Promise<IndexedInstance[]> => {
    const instances = await service.index.instances({
      studyInstanceUid: ids.study,
      ...(ids.series ? { seriesInstanceUid: ids.series } : {}),
      ...(ids.instance ? { sopInstanceUid: ids.instance } : {}),
    });
    if (instances.length === 0) {
      const what = ids.instance
        ? `instance ${ids.instance}`
        : ids.series
          ? `series ${ids.series}`
          : `study ${ids.study}`;
      throw new HttpError(404, DicomWebErrorCode.NotFound, `No ${what} here (in study ${ids.study})`);
    }
    return instances;
  };
  const loadFile = async (instance: IndexedInstance): Promise<Part10File> =>
    readPart10(await service.store.readFile(instance));

  const retrieve = async (request: FastifyRequest<{ Params: Ids }>, reply: FastifyReply) => {
    const instances = await selected(request.params);
    // We serve instances as stored (no transcoding). A client asking for another syntax gets 406.
    const accepts = acceptList(request.headers.accept);
    const dicomAccept =
      accepts.find(
        (a) =>
          a.type === 'multipart/related' &&
          (a.params.type ?? 'application/dicom').toLowerCase() === 'application/dicom',
      ) ?? accepts.find((a) => a.type === '*/*' || a.type === 'multipart/*');
    if (accepts.length && !dicomAccept) {
      throw new HttpError(
        406,
        DicomWebErrorCode.NotAcceptable,
        'Instances are served as multipart/related; type="application/dicom"',
      );
    }
    const wanted = dicomAccept?.params['transfer-syntax'];
    if (wanted && wanted !== '*') {
      const mismatched = instances.filter((i) => i.transferSyntaxUid !== wanted);
      if (mismatched.length) {
        throw new HttpError(
          406,
          DicomWebErrorCode.NotAcceptable,
          `This server does not transcode: ${mismatched.length} instance(s) are stored in another transfer syntax (e.g. ${mismatched[0]!.transferSyntaxUid}); ask with transfer-syntax=*`,
        );
      }
    }
    const files = await Promise.all(instances.map((i) => service.store.readFile(i)));
    const { body, boundary } = buildMultipart(
      files.map((file, k) => ({
        contentType: `application/dicom; transfer-syntax=${instances[k]!.transferSyntaxUid}`,
        body: file,
      })),
    );
    return reply.type(`multipart/related; type="application/dicom"; boundary=${boundary}`).send(body);
  };
  app.get('/studies/:study', retrieve);
  app.get('/studies/:study/series/:series', retrieve);
  app.get('/studies/:study/series/:series/instances/:instance', retrieve);

  const metadata = async (request: FastifyRequest<{ Params: Ids }>, reply: FastifyReply) => {
    const instances = await selected(request.params);
    const base = baseUrl(request);
    const out: DicomJson[] = [];
    for (const instance of instances) {
      const file = await loadFile(instance);
      const url = instanceUrl(base, instance);
      out.push(
        toDicomJson(file.dataSet, {
          bulkDataThreshold: options.bulkDataThreshold ?? 1024,
          bulkDataUri: (path) => `${url}/bulkdata/${path.join('/')}`,
        }),
      );
    }
    return reply.type(DICOM_JSON).send(out);
  };
  app.get('/studies/:study/metadata', metadata);
  app.get('/studies/:study/series/:series/metadata', metadata);
  app.get('/studies/:study/series/:series/instances/:instance/metadata', metadata);

  app.get(
    '/studies/:study/series/:series/instances/:instance/bulkdata/*',
    async (request: FastifyRequest<{ Params: Ids & { '*': string } }>, reply) => {
      const [instance] = await selected(request.params);
      const file = await loadFile(instance!);
      const path = request.params['*'].split('/').filter(Boolean);
      const found = elementAtPath(file.dataSet, path);
      if (!found)
        throw new HttpError(
          404,
          DicomWebErrorCode.NotFound,
          `No bulk data at ${path.join('/')} in instance ${instance!.sopInstanceUid}`,
        );
      const { dataSet, element } = found;
      const bytes = element.fragments
        ? Buffer.concat(element.fragments.slice(1).map((f) => dataSet.bytes.subarray(f.offset, f.offset + f.length)))
        : dataSet.bytes.subarray(element.offset, element.offset + element.length);
      const { body, boundary } = buildMultipart([{ contentType: 'application/octet-stream', body: bytes }]);
      return reply.type(`multipart/related; type="application/octet-stream"; boundary=${boundary}`).send(body);
    },
  );

  app.get(
    '/studies/:study/series/:series/instances/:instance/frames/:frames',
    async (request: FastifyRequest<{ Params: Ids & { frames: string } }>, reply) => {
      const [instance] = await selected(request.params);
      const file = await loadFile(instance!);
      const numbers = request.params.frames.split(',').map((f) => Number(f.trim()));
      const info = (() => {
        try {
          return imageInfo(file.dataSet);
        } catch {
          throw new HttpError(
            404,
            DicomWebErrorCode.NotFound,
            `Instance ${instance!.sopInstanceUid} has no pixel data, hence no frames`,
          );
        }
      })();
      for (const n of numbers) {
        if (!Number.isInteger(n) || n < 1 || n > info.numberOfFrames) {
          throw new HttpError(
            404,
            DicomWebErrorCode.NotFound,
            `Frame ${JSON.stringify(String(n))} does not exist: frames are numbered 1 to ${info.numberOfFrames}`,
          );
        }
      }
      const syntax = file.transferSyntax;
      const element = file.dataSet.get(Tag.PixelData)!;
      let frames: Buffer[];
      let contentType: string;
      if (syntax.encapsulated) {
        const all = encapsulatedFrames(file.dataSet, element, info.numberOfFrames);
        frames = numbers.map((n) => all[n - 1] ?? Buffer.alloc(0));
        contentType = `${syntax.frameMediaType}; transfer-syntax=${syntax.uid}`;
      } else {
        const frameBytes = info.rows * info.columns * info.samplesPerPixel * Math.ceil(info.bitsAllocated / 8);
        frames = numbers.map((n) =>
          file.dataSet.bytes.subarray(element.offset + (n - 1) * frameBytes, element.offset + n * frameBytes),
        );
        contentType = `application/octet-stream; transfer-syntax=${syntax.uid}`;
      }
      const { body, boundary } = buildMultipart(frames.map((frame) => ({ contentType, body: frame })));
      return reply.type(`multipart/related; type="${contentType.split(';')[0]}"; boundary=${boundary}`).send(body);
    },
  );

  const rendered =
    (thumbnail: boolean) =>
    async (
      request: FastifyRequest<{
        Params: Ids & { frame?: string };
        Querystring: { viewport?: string; quality?: string; window?: string };
      }>,
      reply: FastifyReply,
    ) => {
      const [instance] = await selected(request.params);
      const accepts = acceptList(request.headers.accept);
      const format =
        accepts.length === 0 ||
        (accepts.some((a) => a.type === 'image/png' || a.type === 'image/*' || a.type === '*/*') &&
          !(accepts[0]?.type === 'image/jpeg'))
          ? RenderFormat.Png
          : accepts.some((a) => a.type === 'image/jpeg')
            ? RenderFormat.Jpeg
            : undefined;
      if (!format)
        throw new HttpError(406, DicomWebErrorCode.NotAcceptable, 'Rendered images are image/png or image/jpeg');
      const file = await loadFile(instance!);
      if (!transferSyntaxInfo(file.transferSyntax.uid))
        throw new DicomError(
          DicomErrorCode.NotRenderable,
          `Transfer syntax ${file.transferSyntax.uid} is not rendered`,
        );
      const frame = request.params.frame !== undefined ? Number(request.params.frame) - 1 : 0;
      const viewport = request.query.viewport?.split(',').map(Number);
      const maxSize = thumbnail
        ? 128
        : viewport && viewport.every((v) => Number.isInteger(v) && v > 0)
          ? Math.max(viewport[0]!, viewport[1] ?? 0)
          : undefined;
      const windowValues = request.query.window?.split(',').map(Number);
      const image = renderFrame(file.dataSet, file.transferSyntax, {
        frame,
        format,
        ...(maxSize ? { maxSize } : {}),
        ...(request.query.quality ? { quality: Math.min(100, Math.max(1, Number(request.query.quality) || 85)) } : {}),
        ...(windowValues && windowValues.length >= 2 && windowValues.every(Number.isFinite)
          ? { window: { center: windowValues[0]!, width: windowValues[1]! } }
          : {}),
      });
      return reply.type(image.contentType).send(image.bytes);
    };
  app.get('/studies/:study/series/:series/instances/:instance/rendered', rendered(false));
  app.get('/studies/:study/series/:series/instances/:instance/thumbnail', rendered(true));
  app.get('/studies/:study/series/:series/instances/:instance/frames/:frame/rendered', rendered(false));
};
