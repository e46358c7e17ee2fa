// MHD ITI-65 Provide Document Bundle on POST /fhir (the store's transaction endpoint): a transaction Bundle with a
// SubmissionSet List is recognized and handled here — kept in the message store as received, checked against the XDS
// metadata rules (the same validation and registry checks as ITI-41, errors as OperationOutcomes that name the XDS
// code), Binaries' bytes moved to the blob store, entryUUIDs given — then appended as one change set. Any other
// transaction goes on to the store.
// ITI-66 (List search), ITI-67 (DocumentReference search) are the store's own searches; ITI-68 is GET Binary/<id>.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type {
  Binary,
  Bundle,
  BundleEntry,
  DocumentReference,
  Identifier,
  List,
  OperationOutcome,
  OperationOutcomeIssue,
  Patient,
  Resource,
} from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  validateSubmission,
  XdsErrorCode,
  type Association,
  type RegistryObjectList,
  type SubmittedDocument,
  type XdsIssue,
} from '../../adapters/xds/index.js';
import { Stage } from '../../engine/message-store.js';
import type { HubContext } from '../../hub/module.js';
import { Role } from '../../hub/tokens.js';
import { FhirError } from '../../store/fhir/outcome.js';
import { validateForWrite } from '../../store/fhir/validate.js';
import { uuidV5 } from '../../store/uuid.js';
import type { DocumentRegistry } from '../documents/document-registry.js';
import { xdsIssueToMessageIssue, type DocumentJournal } from '../documents/journal.js';
import { hexToBase64, identifierToCx } from '../documents/hl7-fhir.js';
import { KeneyExt, Mhd } from '../documents/vocabulary.js';
import {
  associationsOfDocument,
  associationsOfList,
  documentEntryFromReference,
  entryUuidIdentifier,
  folderFromList,
  listKind,
  submissionSetFromList,
} from '../documents/xds-fhir.js';

export interface MhdOptions {
  hub: HubContext;
  registry: () => DocumentRegistry;
  journal: () => DocumentJournal;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const PROVIDE_PROFILES: readonly string[] = [
  Mhd.comprehensiveProvideBundle,
  Mhd.minimalProvideBundle,
  Mhd.unContainedProvideBundle,
];
/** Patient identifier systems preferred as the XDS patientId: INS (NIR, NIA, test, demo), then any OID. */
const INS_SYSTEMS = ['1.2.250.1.213.1.4.8', '1.2.250.1.213.1.4.9', '1.2.250.1.213.1.4.10', '1.2.250.1.213.1.4.11'].map(
  (o) => `urn:oid:${o}`,
);

/** Is this body an ITI-65 Provide Document Bundle? */
export function isProvideDocumentBundle(body: unknown): body is Bundle {
  const bundle = body as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'transaction') return false;
  if (bundle.meta?.profile?.some((p) => PROVIDE_PROFILES.includes(p))) return true;
  return (bundle.entry ?? []).some(
    (e) => e.resource?.resourceType === 'List' && listKind(e.resource) === 'submissionset',
  );
}

function xdsOutcome(issues: readonly XdsIssue[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i): OperationOutcomeIssue => ({
      severity: i.severity,
      code:
        i.code === XdsErrorCode.duplicateUniqueIdInRegistry || i.code === XdsErrorCode.nonIdenticalHash
          ? 'duplicate'
          : 'processing',
      details: { text: `${i.code}: ${i.message}` },
      ...(i.location ? { diagnostics: i.location } : {}),
    })),
  };
}

function statusFor(issues: readonly XdsIssue[]): number {
  const codes = issues.filter((i) => i.severity === 'error').map((i) => i.code);
  if (
    codes.some(
      (c) =>
        c === XdsErrorCode.duplicateUniqueIdInRegistry ||
        c === XdsErrorCode.nonIdenticalHash ||
        c === XdsErrorCode.nonIdenticalSize,
    )
  )
    return 409;
  if (issues.some((i) => i.severity === 'error' && /already (names|registered)/.test(i.message))) return 409;
  return 422;
}

/** The bytes of each POST /fhir body as received, copied while the FHIR routes' parser reads them. */
const receivedBodies = new WeakMap<FastifyRequest, Buffer[]>();

/** Registers the ITI-65 interception on POST /fhir. */
export function registerMhd(app: FastifyInstance, options: MhdOptions): void {
  // The message store keeps what the sender sent, byte for byte (not the Bundle re-serialized): a tap on the body
  // stream, so the parser still enforces the body limit and nothing is buffered beyond what it reads.
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (request.method !== 'POST' || request.url.split('?')[0]!.replace(/\/+$/, '') !== '/fhir') return payload;
    const chunks: Buffer[] = [];
    receivedBodies.set(request, chunks);
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback(null, chunk);
      },
    });
    payload.on('error', (error) => tap.destroy(error));
    return payload.pipe(tap);
  });
  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST') return;
    const path = request.url.split('?')[0]!.replace(/\/+$/, '');
    if (path !== '/fhir' || !isProvideDocumentBundle(request.body)) return;
    // The FHIR routes' error handler and audit hook serve this request (it is their route).
    (request as FastifyRequest & { fhirAudit?: unknown }).fhirAudit = { action: 'transaction', query: 'ITI-65' };
    const principal = options.hub.principalOf(request);
    options.hub.requireRole(principal, Role.Admin, Role.Write);
    const result = await provideDocumentBundle(request, request.body, options, principal.id);
    return reply.code(200).type(FHIR_JSON).send(result);
  });
}

interface Prepared {
  bundle: Bundle;
  objects: RegistryObjectList;
  documents: Map<string, SubmittedDocument>;
  blobs: { sha256: string; bytes: Uint8Array }[];
}

async function provideDocumentBundle(
  request: FastifyRequest,
  bundle: Bundle,
  options: MhdOptions,
  actor: string,
): Promise<Bundle> {
  const journal = options.journal();
  const registry = options.registry();
  const received = receivedBodies.get(request);
  const raw = received?.length ? Buffer.concat(received) : Buffer.from(JSON.stringify(bundle), 'utf8');
  const set = (bundle.entry ?? []).find(
    (e) => e.resource?.resourceType === 'List' && listKind(e.resource) === 'submissionset',
  )?.resource as List | undefined;
  const message = await journal.received({
    channel: 'mhd',
    raw,
    source: `http ${request.ip}`,
    sender: actor,
    messageType: 'ITI-65',
    ...(set?.identifier?.find((i) => i.use === 'usual')?.value
      ? { controlId: set.identifier.find((i) => i.use === 'usual')!.value! }
      : {}),
  });
  const fail = async (status: number, issues: XdsIssue[]): Promise<never> => {
    await journal.failed(
      message,
      issues.filter((i) => i.severity === 'error').map((i) => xdsIssueToMessageIssue(i)),
    );
    throw new FhirError(status, xdsOutcome(issues));
  };

  let prepared: Prepared;
  try {
    prepared = await prepare(bundle, registry);
  } catch (error) {
    if (error instanceof FhirError) {
      await journal.failed(
        message,
        (error.outcome.issue ?? []).map((i) => ({
          stage: Stage.Decode,
          severity: 'error' as const,
          code: 'invalid',
          message: i.details?.text ?? i.diagnostics ?? 'invalid',
        })),
      );
    }
    throw error;
  }
  const issues = [...validateSubmission(prepared.objects, { profile: 'ITI-41', documents: prepared.documents })];
  if (issues.some((i) => i.severity === 'error')) return fail(422, issues);
  const checked = await registry.check(prepared.objects);
  if (checked.replay) {
    await journal.filed(message, undefined, [
      {
        stage: Stage.Store,
        severity: 'information',
        code: 'duplicate',
        message: 'The same submission was filed before: nothing new was written.',
      },
    ]);
    return {
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry:
        checked.replay.status === 'duplicate'
          ? checked.replay.documentReferences.map((r) => ({ response: { status: '200 OK', location: r } }))
          : [],
    };
  }
  if (checked.issues.length > 0) return fail(statusFor(checked.issues), checked.issues);

  for (const blob of prepared.blobs) await registry.putBlob(blob.bytes);
  const ss = prepared.objects.submissionSets[0]!;
  const changeSetId = uuidV5(`keney:documents:${ss.id}`);
  const outcome = await options.hub.store.submit({
    id: changeSetId,
    bundle: prepared.bundle,
    origin: {
      kind: 'channel',
      channel: 'mhd',
      messageId: message.id,
      rawSha256: message.rawSha256,
      actor,
      sender: `rest ${request.ip}`,
      controlId: ss.uniqueId ?? ss.id,
    },
  });
  if (outcome.status === 'rejected') {
    const text =
      (outcome.response as OperationOutcome).issue?.map((i) => i.details?.text ?? i.diagnostics).join('; ') ??
      'rejected';
    await journal.failed(message, [{ stage: Stage.Apply, severity: 'error', code: 'rejected', message: text }]);
    throw new FhirError(outcome.httpStatus, outcome.response as OperationOutcome);
  }
  await journal.filed(
    message,
    changeSetId,
    issues.map((i) => xdsIssueToMessageIssue(i)),
  );
  const base = options.hub.config.publicUrl
    ? `${options.hub.config.publicUrl}/fhir`
    : `${request.protocol}://${request.host}/fhir`;
  const response = outcome.response as Bundle;
  return {
    ...response,
    entry: (response.entry ?? []).map((e) =>
      e.response?.location ? { ...e, response: { ...e.response, location: `${base}/${e.response.location}` } } : e,
    ),
  };
}

/**
 * Normalizes the Bundle for storage (Binary bytes → blob store, entryUUIDs, subject identifiers, attachment size and
 * hash) and derives the XDS view of it for validation. Throws a 400 FhirError for a Bundle MHD does not allow.
 */
async function prepare(input: Bundle, registry: DocumentRegistry): Promise<Prepared> {
  const bundle = structuredClone(input);
  const entries = bundle.entry ?? [];
  const bad = (text: string, expression?: string) =>
    new FhirError(400, {
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'error', code: 'invalid', details: { text }, ...(expression ? { expression: [expression] } : {}) },
      ],
    });
  const sets = entries.filter((e) => e.resource?.resourceType === 'List' && listKind(e.resource) === 'submissionset');
  if (sets.length !== 1)
    throw bad(
      `An ITI-65 Provide Document Bundle has exactly one SubmissionSet List (code ${Mhd.listTypes}|submissionset); this one has ${sets.length}.`,
    );
  entries.forEach((e, i) => {
    if (!e.resource)
      throw bad(`Bundle.entry[${i}] has no resource: ITI-65 entries create resources.`, `Bundle.entry[${i}]`);
    if (!e.request || (e.request.method !== 'POST' && e.request.method !== 'PUT'))
      throw bad(
        `Bundle.entry[${i}].request.method must be POST (or PUT for an update of a replaced entry).`,
        `Bundle.entry[${i}].request`,
      );
    try {
      validateForWrite(e.resource);
    } catch (error) {
      if (error instanceof FhirError) {
        for (const issue of error.outcome.issue ?? [])
          issue.expression = (issue.expression ?? []).map(
            (x) => `Bundle.entry[${i}].resource.${x.split('.').slice(1).join('.')}`,
          );
      }
      throw error;
    }
  });
  const byFullUrl = new Map<string, BundleEntry>();
  for (const e of entries) if (e.fullUrl) byFullUrl.set(e.fullUrl, e);
  const findInBundle = (url: string | undefined): BundleEntry | undefined => {
    if (!url) return undefined;
    if (byFullUrl.has(url)) return byFullUrl.get(url);
    return entries.find((e) => e.fullUrl && (e.fullUrl.endsWith(`/${url}`) || url.endsWith(`/${e.fullUrl}`)));
  };

  // entryUUIDs: the identifier if given, else the entry's urn:uuid fullUrl (MHD), else one derived from the Bundle.
  const entryUuidOfEntry = new Map<BundleEntry, string>();
  for (const [i, e] of entries.entries()) {
    const r = e.resource!;
    if (r.resourceType !== 'DocumentReference' && r.resourceType !== 'List') continue;
    const withIds = r as DocumentReference | List;
    const existing = withIds.identifier?.find(
      (id) => id.system === 'urn:ietf:rfc:3986' && id.value?.startsWith('urn:uuid:'),
    );
    const uuid =
      existing?.value ??
      (e.fullUrl && /^urn:uuid:[0-9a-f-]{36}$/i.test(e.fullUrl)
        ? e.fullUrl.toLowerCase()
        : `urn:uuid:${uuidV5(`mhd:${JSON.stringify(input.identifier ?? input.id ?? '')}:${i}:${JSON.stringify(withIds.identifier ?? [])}`)}`);
    if (!existing) withIds.identifier = [entryUuidIdentifier(uuid), ...(withIds.identifier ?? [])];
    entryUuidOfEntry.set(e, uuid);
  }

  // The store replaces every string equal to a fullUrl with the new resource's reference — an entryUUID taken from
  // the fullUrl would be rewritten too: such entries get another fullUrl, and the references to them follow.
  const renamed = new Map<string, string>();
  for (const [e, uuid] of entryUuidOfEntry) {
    if (e.fullUrl && e.fullUrl.toLowerCase() === uuid) {
      const next = `urn:uuid:${uuidV5(`mhd-fullurl:${uuid}`)}`;
      renamed.set(e.fullUrl, next);
      byFullUrl.delete(e.fullUrl);
      e.fullUrl = next;
      byFullUrl.set(next, e);
    }
  }
  if (renamed.size > 0) for (const e of entries) renameReferences(e.resource, renamed);

  // Subjects: a Patient on this server (or in the Bundle); its identifier becomes the XDS patientId.
  const patientCache = new Map<string, Identifier | undefined>();
  const patientIdentifierOf = async (reference: string | undefined): Promise<Identifier | undefined> => {
    if (!reference) return undefined;
    if (patientCache.has(reference)) return patientCache.get(reference);
    const inBundle = findInBundle(reference)?.resource as Patient | undefined;
    let patient: Patient | undefined = inBundle?.resourceType === 'Patient' ? inBundle : undefined;
    const local = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(reference);
    if (!patient && local) patient = await registry.read<Patient>('Patient', local[1]!);
    if (!patient && reference.startsWith('Patient?'))
      patient = (await registry.search<Patient>('Patient', [...new URLSearchParams(reference.slice(8))], 2))[0];
    const identifiers = patient?.identifier ?? [];
    const chosen =
      INS_SYSTEMS.map((s) => identifiers.find((i) => i.system === s)).find(Boolean) ??
      identifiers.find((i) => i.system?.startsWith('urn:oid:'));
    const value = chosen?.value && chosen.system ? { system: chosen.system, value: chosen.value } : undefined;
    patientCache.set(reference, value);
    if (!patient)
      throw new FhirError(
        422,
        xdsOutcome([
          {
            code: XdsErrorCode.unknownPatientId,
            severity: 'error',
            message: `The subject ${reference} is not a Patient of this server: create the patient first, or reference it as Patient?identifier=urn:oid:<oid>|<id>`,
            location: reference,
          },
        ]),
      );
    return value;
  };
  const localRef = (reference: string | undefined) => {
    const m = reference ? /(?:^|\/)(Patient\/[A-Za-z0-9\-.]{1,64})$/.exec(reference) : null;
    return m && !findInBundle(reference) ? m[1]! : reference;
  };
  for (const e of entries) {
    const r = e.resource as DocumentReference | List;
    if ((r.resourceType !== 'DocumentReference' && r.resourceType !== 'List') || !r.subject) continue;
    const identifier = r.subject.identifier ?? (await patientIdentifierOf(r.subject.reference));
    r.subject = {
      ...r.subject,
      ...(r.subject.reference ? { reference: localRef(r.subject.reference)! } : {}),
      ...(identifier ? { identifier } : {}),
    };
  }

  // Binaries: bytes to the blob store (made durable before the change set), size and hash on the attachment.
  const documents = new Map<string, SubmittedDocument>();
  const blobs: Prepared['blobs'] = [];
  const binaryBytes = new Map<BundleEntry, Buffer>();
  for (const [i, e] of entries.entries()) {
    if (e.resource?.resourceType !== 'Binary') continue;
    const binary = e.resource as Binary;
    if (binary.data === undefined)
      throw bad(
        `Bundle.entry[${i}]: the Binary has no data: ITI-65 carries the document in Binary.data (base64).`,
        `Bundle.entry[${i}].resource.data`,
      );
    const bytes = Buffer.from(binary.data, 'base64');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    blobs.push({ sha256, bytes });
    binaryBytes.set(e, bytes);
    delete binary.data;
    binary.meta = {
      ...binary.meta,
      extension: [
        ...(binary.meta?.extension ?? []).filter((x) => x.url !== KeneyExt.blob),
        { url: KeneyExt.blob, valueString: sha256 },
      ],
    };
  }
  for (const [i, e] of entries.entries()) {
    if (e.resource?.resourceType !== 'DocumentReference') continue;
    const doc = e.resource as DocumentReference;
    if (doc.content.length !== 1)
      throw bad(
        `Bundle.entry[${i}]: an MHD DocumentReference has exactly one content (this one has ${doc.content.length}).`,
        `Bundle.entry[${i}].resource.content`,
      );
    const attachment = doc.content[0]!.attachment;
    if (attachment.data !== undefined)
      throw bad(
        `Bundle.entry[${i}]: put the document in a Binary of the Bundle and point content.attachment.url to it (MHD forbids attachment.data).`,
        `Bundle.entry[${i}].resource.content[0].attachment.data`,
      );
    const binaryEntry = findInBundle(attachment.url);
    const bytes = binaryEntry ? binaryBytes.get(binaryEntry) : undefined;
    if (!bytes)
      throw bad(
        `Bundle.entry[${i}]: content.attachment.url "${attachment.url ?? ''}" names no Binary of the Bundle: the document must travel with its metadata.`,
        `Bundle.entry[${i}].resource.content[0].attachment.url`,
      );
    const sha1 = createHash('sha1').update(bytes).digest();
    if (attachment.size !== undefined && attachment.size !== bytes.length) {
      throw new FhirError(
        422,
        xdsOutcome([
          {
            code: XdsErrorCode.repositoryMetadataError,
            severity: 'error',
            message: `content.attachment.size is ${attachment.size} but the Binary has ${bytes.length} bytes`,
            location: `Bundle.entry[${i}]`,
          },
        ]),
      );
    }
    if (attachment.hash !== undefined && attachment.hash !== sha1.toString('base64')) {
      throw new FhirError(
        422,
        xdsOutcome([
          {
            code: XdsErrorCode.repositoryMetadataError,
            severity: 'error',
            message: `content.attachment.hash is ${attachment.hash} but the Binary's SHA-1 is ${sha1.toString('base64')}`,
            location: `Bundle.entry[${i}]`,
          },
        ]),
      );
    }
    attachment.size = bytes.length;
    attachment.hash = hexToBase64(sha1.toString('hex'))!;
    documents.set(entryUuidOfEntry.get(e)!, {
      bytes,
      ...(attachment.contentType ? { contentType: attachment.contentType } : {}),
    });
  }

  // The XDS view of the Bundle, for the same validation as ITI-41.
  const uuidOfRef = (reference: string): string | undefined => {
    const inBundle = findInBundle(reference);
    return inBundle ? entryUuidOfEntry.get(inBundle) : undefined;
  };
  const existingUuids = await registry.entryUuids(
    entries.flatMap((e) => refsOf(e.resource!)).filter((r) => !findInBundle(r)),
  );
  const entryUuidOf = (reference: string) => uuidOfRef(reference) ?? existingUuids.get(reference);
  const isList = (reference: string) =>
    findInBundle(reference)?.resource?.resourceType === 'List' || reference.startsWith('List/');
  const objects: RegistryObjectList = {
    submissionSets: [],
    documentEntries: [],
    folders: [],
    associations: [],
    objectRefs: [],
  };
  const associations: Association[] = [];
  for (const e of entries) {
    const r = e.resource!;
    if (r.resourceType === 'DocumentReference') {
      objects.documentEntries.push(documentEntryFromReference(r));
      associations.push(...associationsOfDocument(r, entryUuidOf));
    } else if (r.resourceType === 'List' && listKind(r) === 'submissionset') {
      objects.submissionSets.push(submissionSetFromList(r));
      associations.push(...associationsOfList(r, entryUuidOf, isList));
    } else if (r.resourceType === 'List' && listKind(r) === 'folder') {
      objects.folders.push(folderFromList(r));
      associations.push(...associationsOfList(r, entryUuidOf, isList));
    }
  }
  objects.associations = associations;
  for (const entry of objects.documentEntries) entry.repositoryUniqueId ??= registry.repositoryUniqueId;
  return { bundle, objects, documents, blobs };
}

/** Replaces `reference` values (anywhere in a resource) by their new names. */
function renameReferences(node: unknown, renamed: Map<string, string>): void {
  if (Array.isArray(node)) {
    for (const item of node) renameReferences(item, renamed);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (key === 'reference' && typeof value === 'string' && renamed.has(value)) record[key] = renamed.get(value);
    else if (key !== 'identifier' && key !== 'masterIdentifier') renameReferences(value, renamed);
  }
}

function refsOf(resource: Resource): string[] {
  if (resource.resourceType === 'List')
    return (resource.entry ?? []).map((e) => e.item.reference).filter((r): r is string => !!r);
  if (resource.resourceType === 'DocumentReference')
    return (resource.relatesTo ?? []).map((r) => r.target.reference).filter((r): r is string => !!r);
  return [];
}

export { identifierToCx };
