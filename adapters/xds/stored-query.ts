// ITI-18 Registry Stored Query: query:AdhocQueryRequest → a typed query, and the AdhocQueryResponse.
//
// Parameter values follow ITI TF-2 §3.18.4.1.2.3.5: strings in single quotes with '' for a quote, lists in
// parentheses, codes as 'code^^codingScheme', times as unquoted digits. Values are parsed by a small grammar into
// typed data — never pasted into a query — so a value such as `'x'' OR ''1''=''1'` is just the string x' OR '1'='1.
import {
  attribute,
  childElement,
  childElements,
  el,
  textContent,
  type XmlElement,
  type XmlElementSpec,
} from '../xml/index.js';
import { Ns, ResponseStatus, StoredQueryId, XdsErrorCode } from './constants.js';
import { buildObjectRefList, buildRegistryObjectList, RIM_NAMESPACES, type BuildOptions } from './ebrim-build.js';
import { isXdsDateTime, parsePatientIdentifier } from './hl7-values.js';
import type { Code, RegistryObjectList, XdsIssue } from './model.js';
import { buildRegistryErrorList, responseStatus } from './registry-response.js';

export const ReturnType = { leafClass: 'LeafClass', objectRef: 'ObjectRef' } as const;
export type ReturnType = (typeof ReturnType)[keyof typeof ReturnType];

interface QueryBase {
  returnType: ReturnType;
  homeCommunityId?: string;
}

export interface FindDocumentsQuery extends QueryBase {
  kind: 'FindDocuments';
  patientId: string;
  status: string[];
  classCode?: Code[];
  typeCode?: Code[];
  practiceSettingCode?: Code[];
  healthcareFacilityTypeCode?: Code[];
  formatCode?: Code[];
  /** AND of ORs: every group must match one of its codes. */
  eventCodeList?: Code[][];
  confidentialityCode?: Code[][];
  authorPerson?: string[];
  objectType?: string[];
  creationTimeFrom?: string;
  creationTimeTo?: string;
  serviceStartTimeFrom?: string;
  serviceStartTimeTo?: string;
  serviceStopTimeFrom?: string;
  serviceStopTimeTo?: string;
}

export interface FindSubmissionSetsQuery extends QueryBase {
  kind: 'FindSubmissionSets';
  patientId: string;
  status: string[];
  sourceId?: string[];
  submissionTimeFrom?: string;
  submissionTimeTo?: string;
  authorPerson?: string;
  contentTypeCode?: Code[];
}

export interface GetDocumentsQuery extends QueryBase {
  kind: 'GetDocuments';
  entryUuids?: string[];
  uniqueIds?: string[];
}

export interface GetAssociationsQuery extends QueryBase {
  kind: 'GetAssociations';
  uuids: string[];
}

export interface GetSubmissionSetAndContentsQuery extends QueryBase {
  kind: 'GetSubmissionSetAndContents';
  entryUuid?: string;
  uniqueId?: string;
  formatCode?: Code[];
  confidentialityCode?: Code[][];
  objectType?: string[];
}

export type StoredQuery =
  | FindDocumentsQuery
  | FindSubmissionSetsQuery
  | GetDocumentsQuery
  | GetAssociationsQuery
  | GetSubmissionSetAndContentsQuery;

export type ParsedStoredQuery =
  { ok: true; query: StoredQuery; warnings: XdsIssue[] } | { ok: false; issues: XdsIssue[] };

// ---- value grammar ---------------------------------------------------------------------------------------------

type Atom = { kind: 'string'; value: string } | { kind: 'number'; value: string };

/** Parses one rim:Value text into atoms (one atom, or a parenthesized list). Exported for tests. */
export function parseQueryValue(text: string): Atom[] | { error: string } {
  const s = text.trim();
  let i = 0;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const atom = (inList: boolean): Atom | { error: string } => {
    ws();
    if (s[i] === "'") {
      let out = '';
      i++;
      for (;;) {
        if (i >= s.length)
          return { error: "a quoted value is not closed: end it with ' (a quote inside a value is written '')" };
        if (s[i] === "'") {
          if (s[i + 1] === "'") {
            out += "'";
            i += 2;
            continue;
          }
          i++;
          return { kind: 'string', value: out };
        }
        out += s[i];
        i++;
      }
    }
    const start = i;
    while (i < s.length && !(inList ? /[\s,()']/ : /[()']/).test(s[i]!)) i++;
    const raw = s.slice(start, i).trim();
    if (!raw) return { error: `a value is missing at position ${start + 1}` };
    return /^\d+$/.test(raw) ? { kind: 'number', value: raw } : { kind: 'string', value: raw };
  };
  if (s.startsWith('(')) {
    i = 1;
    const atoms: Atom[] = [];
    for (;;) {
      const a = atom(true);
      if ('error' in a) return a;
      atoms.push(a);
      ws();
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === ')') {
        i++;
        break;
      }
      return {
        error:
          i >= s.length
            ? "a list is not closed: end it with ')'"
            : `unexpected "${s[i]}" at position ${i + 1} in a list: separate values with commas`,
      };
    }
    ws();
    if (i < s.length) return { error: `unexpected text after the closing parenthesis at position ${i + 1}` };
    return atoms;
  }
  const a = atom(false);
  if ('error' in a) return a;
  ws();
  if (i < s.length) return { error: `unexpected text "${s.slice(i, i + 20)}" at position ${i + 1} after the value` };
  return [a];
}

// ---- parameter tables -------------------------------------------------------------------------------------------

type ParamType = 'string' | 'code' | 'time' | 'patientId';
type Cardinality = 'single' | 'multi' | 'andOr';
interface ParamSpec {
  slot: string;
  field: string;
  type: ParamType;
  card: Cardinality;
  required?: boolean;
}

const p = (slot: string, field: string, type: ParamType, card: Cardinality, required = false): ParamSpec => ({
  slot,
  field,
  type,
  card,
  required,
});

const QUERIES: Record<string, { kind: StoredQuery['kind']; params: ParamSpec[]; oneOf?: [string, string] }> = {
  [StoredQueryId.findDocuments]: {
    kind: 'FindDocuments',
    params: [
      p('$XDSDocumentEntryPatientId', 'patientId', 'patientId', 'single', true),
      p('$XDSDocumentEntryStatus', 'status', 'string', 'multi', true),
      p('$XDSDocumentEntryClassCode', 'classCode', 'code', 'multi'),
      p('$XDSDocumentEntryTypeCode', 'typeCode', 'code', 'multi'),
      p('$XDSDocumentEntryPracticeSettingCode', 'practiceSettingCode', 'code', 'multi'),
      p('$XDSDocumentEntryHealthcareFacilityTypeCode', 'healthcareFacilityTypeCode', 'code', 'multi'),
      p('$XDSDocumentEntryFormatCode', 'formatCode', 'code', 'multi'),
      p('$XDSDocumentEntryEventCodeList', 'eventCodeList', 'code', 'andOr'),
      p('$XDSDocumentEntryConfidentialityCode', 'confidentialityCode', 'code', 'andOr'),
      p('$XDSDocumentEntryAuthorPerson', 'authorPerson', 'string', 'multi'),
      p('$XDSDocumentEntryType', 'objectType', 'string', 'multi'),
      p('$XDSDocumentEntryCreationTimeFrom', 'creationTimeFrom', 'time', 'single'),
      p('$XDSDocumentEntryCreationTimeTo', 'creationTimeTo', 'time', 'single'),
      p('$XDSDocumentEntryServiceStartTimeFrom', 'serviceStartTimeFrom', 'time', 'single'),
      p('$XDSDocumentEntryServiceStartTimeTo', 'serviceStartTimeTo', 'time', 'single'),
      p('$XDSDocumentEntryServiceStopTimeFrom', 'serviceStopTimeFrom', 'time', 'single'),
      p('$XDSDocumentEntryServiceStopTimeTo', 'serviceStopTimeTo', 'time', 'single'),
    ],
  },
  [StoredQueryId.findSubmissionSets]: {
    kind: 'FindSubmissionSets',
    params: [
      p('$XDSSubmissionSetPatientId', 'patientId', 'patientId', 'single', true),
      p('$XDSSubmissionSetStatus', 'status', 'string', 'multi', true),
      p('$XDSSubmissionSetSourceId', 'sourceId', 'string', 'multi'),
      p('$XDSSubmissionSetSubmissionTimeFrom', 'submissionTimeFrom', 'time', 'single'),
      p('$XDSSubmissionSetSubmissionTimeTo', 'submissionTimeTo', 'time', 'single'),
      p('$XDSSubmissionSetAuthorPerson', 'authorPerson', 'string', 'single'),
      p('$XDSSubmissionSetContentType', 'contentTypeCode', 'code', 'multi'),
    ],
  },
  [StoredQueryId.getDocuments]: {
    kind: 'GetDocuments',
    params: [
      p('$XDSDocumentEntryEntryUUID', 'entryUuids', 'string', 'multi'),
      p('$XDSDocumentEntryUniqueId', 'uniqueIds', 'string', 'multi'),
    ],
    oneOf: ['$XDSDocumentEntryEntryUUID', '$XDSDocumentEntryUniqueId'],
  },
  [StoredQueryId.getAssociations]: {
    kind: 'GetAssociations',
    params: [p('$uuid', 'uuids', 'string', 'multi', true)],
  },
  [StoredQueryId.getSubmissionSetAndContents]: {
    kind: 'GetSubmissionSetAndContents',
    params: [
      p('$XDSSubmissionSetEntryUUID', 'entryUuid', 'string', 'single'),
      p('$XDSSubmissionSetUniqueId', 'uniqueId', 'string', 'single'),
      p('$XDSDocumentEntryFormatCode', 'formatCode', 'code', 'multi'),
      p('$XDSDocumentEntryConfidentialityCode', 'confidentialityCode', 'code', 'andOr'),
      p('$XDSDocumentEntryType', 'objectType', 'string', 'multi'),
    ],
    oneOf: ['$XDSSubmissionSetEntryUUID', '$XDSSubmissionSetUniqueId'],
  },
};

const KNOWN_BUT_UNSUPPORTED = new Map<string, string>(
  Object.entries(StoredQueryId)
    .filter(([, id]) => !(id in QUERIES))
    .map(([name, id]) => [id, name]),
);

function parseCode(value: string): Code | { error: string } {
  const sep = value.indexOf('^^');
  if (sep <= 0 || sep + 2 >= value.length) return { error: `"${value}" is not a code of the form code^^codingScheme` };
  return { code: value.slice(0, sep), codingScheme: value.slice(sep + 2) };
}

/** Parses a query:AdhocQueryRequest element into a typed stored query, or the XDS errors to return. */
export function parseAdhocQueryRequest(request: XmlElement): ParsedStoredQuery {
  const issues: XdsIssue[] = [];
  const warnings: XdsIssue[] = [];
  const fail = (code: XdsIssue['code'], message: string, location?: string): ParsedStoredQuery => ({
    ok: false,
    issues: [...issues, { code, severity: 'error', message, ...(location ? { location } : {}) }],
  });
  if (request.uri !== Ns.query || request.local !== 'AdhocQueryRequest') {
    return fail(
      XdsErrorCode.registryError,
      `Expected query:AdhocQueryRequest (${Ns.query}), found {${request.uri}}${request.local}`,
    );
  }
  const option = childElement(request, Ns.query, 'ResponseOption');
  const returnTypeRaw = (option && attribute(option, 'returnType')) || ReturnType.objectRef;
  if (returnTypeRaw !== ReturnType.leafClass && returnTypeRaw !== ReturnType.objectRef) {
    return fail(
      XdsErrorCode.registryError,
      `returnType "${returnTypeRaw}" is not supported: use LeafClass or ObjectRef`,
    );
  }
  const adhoc = childElement(request, Ns.rim, 'AdhocQuery');
  if (!adhoc) return fail(XdsErrorCode.registryError, 'The request has no rim:AdhocQuery');
  const queryId = (attribute(adhoc, 'id') ?? '').trim();
  const def = QUERIES[queryId];
  if (!def) {
    const known = KNOWN_BUT_UNSUPPORTED.get(queryId);
    return fail(
      XdsErrorCode.unknownStoredQuery,
      known
        ? `Stored query ${known} (${queryId}) is not supported by this registry: use FindDocuments, FindSubmissionSets, GetDocuments, GetAssociations or GetSubmissionSetAndContents`
        : `Unknown stored query id "${queryId}"`,
      queryId,
    );
  }
  const home = attribute(adhoc, 'home');

  // Collect the Value texts per slot name (a repeated Slot adds Values).
  const slots = new Map<string, string[]>();
  for (const slot of childElements(adhoc, Ns.rim, 'Slot')) {
    const name = (attribute(slot, 'name') ?? '').trim();
    const list = childElement(slot, Ns.rim, 'ValueList');
    const values = list ? childElements(list, Ns.rim, 'Value').map((v) => textContent(v)) : [];
    slots.set(name, [...(slots.get(name) ?? []), ...values]);
  }
  const specs = new Map(def.params.map((s) => [s.slot, s]));
  const out: Record<string, unknown> = { kind: def.kind, returnType: returnTypeRaw };
  if (home) out['homeCommunityId'] = home;

  for (const [name, values] of slots) {
    if (name === '$homeCommunityId') {
      const parsed = values.length === 1 ? parseQueryValue(values[0]!) : { error: 'takes one value' };
      if ('error' in parsed || parsed.length !== 1)
        return fail(
          XdsErrorCode.registryError,
          `Parameter $homeCommunityId: ${'error' in parsed ? parsed.error : 'takes one value'}`,
          name,
        );
      out['homeCommunityId'] = parsed[0]!.value;
      continue;
    }
    const spec = specs.get(name);
    if (!spec) {
      warnings.push({
        code: XdsErrorCode.registryError,
        severity: 'warning',
        message: `Parameter ${name} is not a parameter of ${def.kind}: ignored`,
        location: name,
      });
      continue;
    }
    if (values.length === 0) return fail(XdsErrorCode.storedQueryMissingParam, `Parameter ${name} has no value`, name);
    const groups: Atom[][] = [];
    for (const text of values) {
      const atoms = parseQueryValue(text);
      if ('error' in atoms) return fail(XdsErrorCode.registryError, `Parameter ${name}: ${atoms.error}`, name);
      groups.push(atoms);
    }
    if (spec.card === 'single' && (groups.length > 1 || groups[0]!.length > 1)) {
      return fail(
        XdsErrorCode.storedQueryParamNumber,
        `Parameter ${name} takes a single value, ${groups.flat().length} were given`,
        name,
      );
    }
    const convert = (atom: Atom): string | Code | { error: string } => {
      switch (spec.type) {
        case 'string':
          return atom.value;
        case 'patientId': {
          const pid = parsePatientIdentifier(atom.value);
          return 'error' in pid ? { error: pid.error } : atom.value;
        }
        case 'time':
          return isXdsDateTime(atom.value)
            ? atom.value
            : { error: `"${atom.value}" is not a time YYYY[MM[DD[hh[mm[ss]]]]]` };
        case 'code':
          return parseCode(atom.value);
        default:
          spec.type satisfies never;
          return { error: 'unsupported type' };
      }
    };
    const converted: (string | Code)[][] = [];
    for (const group of groups) {
      const row: (string | Code)[] = [];
      for (const atom of group) {
        const value = convert(atom);
        if (typeof value === 'object' && 'error' in value)
          return fail(XdsErrorCode.registryError, `Parameter ${name}: ${value.error}`, name);
        row.push(value);
      }
      converted.push(row);
    }
    out[spec.field] = spec.card === 'single' ? converted[0]![0] : spec.card === 'andOr' ? converted : converted.flat();
  }

  for (const spec of def.params) {
    if (spec.required && out[spec.field] === undefined) {
      return fail(XdsErrorCode.storedQueryMissingParam, `${def.kind} requires parameter ${spec.slot}`, spec.slot);
    }
  }
  if (def.oneOf) {
    const present = def.oneOf.filter((slot) => out[specs.get(slot)!.field] !== undefined);
    if (present.length !== 1) {
      return fail(
        present.length === 0 ? XdsErrorCode.storedQueryMissingParam : XdsErrorCode.storedQueryParamNumber,
        `${def.kind} takes exactly one of ${def.oneOf.join(' or ')}${present.length ? ', not both' : ''}`,
        def.oneOf.join(','),
      );
    }
  }
  return { ok: true, query: out as unknown as StoredQuery, warnings };
}

export interface AdhocQueryResponseOptions extends BuildOptions {
  returnType: ReturnType;
  issues?: readonly XdsIssue[];
  /** PartialSuccess: some results with some errors (e.g. one community did not answer). */
  partial?: boolean;
}

/** query:AdhocQueryResponse with LeafClass objects or ObjectRefs. */
export function buildAdhocQueryResponse(
  objects: RegistryObjectList,
  options: AdhocQueryResponseOptions,
): XmlElementSpec {
  const issues = options.issues ?? [];
  const hasResults =
    objects.documentEntries.length +
      objects.submissionSets.length +
      objects.folders.length +
      objects.associations.length +
      objects.objectRefs.length >
    0;
  const status: string = issues.some((i) => i.severity === 'error')
    ? options.partial && hasResults
      ? ResponseStatus.partialSuccess
      : responseStatus(issues)
    : ResponseStatus.success;
  const ids = [
    ...objects.submissionSets.map((o) => o.id),
    ...objects.folders.map((o) => o.id),
    ...objects.documentEntries.map((o) => o.id),
    ...objects.associations.map((o) => o.id),
    ...objects.objectRefs,
  ];
  return el(
    'query:AdhocQueryResponse',
    { 'xmlns:query': Ns.query, 'xmlns:rs': Ns.rs, ...RIM_NAMESPACES, status },
    buildRegistryErrorList(issues),
    status === ResponseStatus.failure
      ? el('rim:RegistryObjectList')
      : options.returnType === ReturnType.leafClass
        ? buildRegistryObjectList(objects, options)
        : buildObjectRefList(ids),
  );
}

/** Builds a query:AdhocQueryRequest (document-consumer role); values are quoted/escaped here. */
export function buildAdhocQueryRequest(
  queryId: string,
  params: Record<string, string | readonly string[]>,
  returnType: ReturnType = ReturnType.leafClass,
): XmlElementSpec {
  const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
  return el(
    'query:AdhocQueryRequest',
    { 'xmlns:query': Ns.query, ...RIM_NAMESPACES },
    el('query:ResponseOption', { returnComposedObjects: 'true', returnType }),
    el(
      'rim:AdhocQuery',
      { id: queryId },
      ...Object.entries(params).map(([name, value]) =>
        el(
          'rim:Slot',
          { name },
          el(
            'rim:ValueList',
            {},
            el(
              'rim:Value',
              {},
              typeof value === 'string'
                ? /^\d+$/.test(value) && /Time(From|To)$/.test(name)
                  ? value
                  : quote(value)
                : `(${value.map(quote).join(',')})`,
            ),
          ),
        ),
      ),
    ),
  );
}
