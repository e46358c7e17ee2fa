// The template format (see mappings/TEMPLATES.md): datatype maps, segment maps and message maps, as YAML,
// checked against the JSON Schemas below when loaded. Every condition and computed value is either one of the
// schema-checked forms or a FHIRPath expression; there is no free-form mini-language and no code.
import type { StructureTemplate } from './source.js';

/** Where a value comes from, relative to the node being mapped: `3`, `3.1`, `4.2` (component.subcomponent), `0`
 * (in a datatype map: the value itself, to hand it whole to another datatype map), or an absolute segment path
 * `ZBE-4`, `MSH-10`, `OBR-3.1` (the nearest such segment in the message structure). */
export type SourcePath = string | number;

export type Condition =
  | { valued: SourcePath }
  | { equals: { path: SourcePath; value: string } }
  | { in: { path: SourcePath; values: string[] } }
  | { event: string[] }
  | { longer: { path: SourcePath; than: number } }
  | { fhirpath: string }
  | { not: Condition }
  | { all: Condition[] }
  | { any: Condition[] };

/** A value from the mapping context rather than the message. */
export const ContextValue = { MessageId: 'messageId', ChannelId: 'channelId', ReceivedAt: 'receivedAt', RawSha256: 'rawSha256' } as const;
export type ContextValue = (typeof ContextValue)[keyof typeof ContextValue];

export interface Rule {
  /** Source of the value(s); absent with `value`, `context` or `fhirpath`. */
  from?: SourcePath;
  /** A constant (string, number, boolean or an object such as a Coding). */
  value?: unknown;
  /** A value of the mapping context. */
  context?: ContextValue;
  /** A FHIRPath expression evaluated on the resource built so far (its first result is the value). */
  fhirpath?: string;
  /** FHIR path (relative to the element being built) that receives the value; absent = this element. */
  to?: string;
  /** A datatype map (`CX[Identifier]`) or `text` (the whole value with separators, for FT/TX). */
  type?: string;
  /** With `type: text`: the non-empty components joined by this string instead (a coded comment as text). */
  join?: string;
  /** ConceptMap id applied to the code (terminology-maps). */
  vocabulary?: string;
  when?: Condition;
  /** `all` repetitions (default) or only the `first`. */
  repeat?: 'all' | 'first';
  /** More rules applied to the element this rule created (same source node). */
  with?: Rule[];
  /** An error issue when no value is found. */
  required?: boolean;
  /** Why, for the reader (the IG row or a French specification). */
  note?: string;
}

export interface DatatypeMap {
  name: string;
  /** FHIR type produced (`Identifier`, `CodeableConcept`, or a resource type such as `Practitioner`). */
  fhirType: string;
  /** When the map produces a resource: it becomes its own Bundle entry and the rule's target gets a Reference. */
  resource: boolean;
  rules: Rule[];
  file: string;
}

export interface SegmentMap {
  name: string;
  segment: string;
  resource: string;
  rules: Rule[];
  file: string;
}

export const WriteMode = {
  /** Conditional update on the resource's identifiers: this message is the source of truth for it. */
  Upsert: 'upsert',
  /** Created when absent (conditional create); an existing one is left as it is (e.g. the Patient of a lab result). */
  CreateIfAbsent: 'create-if-absent',
  /** One per message, at an id derived from the message id (the MessageHeader): a replay converges on it. */
  PerMessage: 'per-message',
} as const;
export type WriteMode = (typeof WriteMode)[keyof typeof WriteMode];

export interface ReferenceDef {
  /** FHIR path on this resource (`subject`, `result`, `partOf`, `participant.individual`). */
  path: string;
  /** Name of the instance referenced. */
  instance: string;
  /** `nearest` (default): the closest one seen from this segment; `within`: every one in this segment's group. */
  scope?: 'nearest' | 'within';
}

export interface KeyDef {
  /** Search parameter values giving identity, e.g. conditional on identifiers (default). */
  identifiers?: boolean;
  /** Otherwise a stable id from these source values (all absent ⇒ message-scoped). */
  values?: SourcePath[];
  /** Use only identifiers of these types (identifier.type code, e.g. PI for the IPP) when there are some. */
  systems?: string[];
  /** Take the identity from other identifiers than the resource's own: a CX field such as MRG-1 (A47). */
  identifiersFrom?: SourcePath;
}

export interface InstanceDef {
  name: string;
  segment: string;
  map: string;
  /** More segment maps merged into the same resource: `{ segment: PV2, map: PV2[Encounter] }` (nearest). */
  also?: { segment: string; map: string; scope?: 'siblings' | 'within' }[];
  when?: Condition;
  references?: ReferenceDef[];
  write?: WriteMode;
  key?: KeyDef;
  /** FHIR `request` overrides for operations (Patient/$merge). */
  operation?: { url: string };
}

export interface MessageMap {
  id: string;
  /** MSH-9 patterns this map handles: `ADT^A01`, `ADT^*`, `ORU^R01`. */
  events: string[];
  structure: StructureTemplate[];
  instances: InstanceDef[];
  file: string;
  description?: string;
}

// ---- JSON Schemas ------------------------------------------------------------------------------------------

const sourcePath = {
  oneOf: [
    { type: 'integer', minimum: 0, maximum: 999 },
    { type: 'string', pattern: '^(?:[A-Z][A-Z0-9]{2}-)?\\d{1,3}(?:\\.\\d{1,3}){0,2}$' },
  ],
  description: 'field/component number(s) like 3, "3.1", "4.2", or an absolute "SEG-n[.c[.s]]" such as "ZBE-4"',
};

const conditionRef = { $ref: '#/$defs/condition' };

const condition = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['valued'], properties: { valued: sourcePath } },
    {
      type: 'object',
      additionalProperties: false,
      required: ['equals'],
      properties: {
        equals: { type: 'object', additionalProperties: false, required: ['path', 'value'], properties: { path: sourcePath, value: { type: 'string' } } },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['in'],
      properties: {
        in: {
          type: 'object',
          additionalProperties: false,
          required: ['path', 'values'],
          properties: { path: sourcePath, values: { type: 'array', items: { type: 'string' }, minItems: 1 } },
        },
      },
    },
    { type: 'object', additionalProperties: false, required: ['event'], properties: { event: { type: 'array', items: { type: 'string', pattern: '^[A-Z0-9]{3}$' }, minItems: 1 } } },
    {
      type: 'object',
      additionalProperties: false,
      required: ['longer'],
      properties: {
        longer: { type: 'object', additionalProperties: false, required: ['path', 'than'], properties: { path: sourcePath, than: { type: 'integer', minimum: 0 } } },
      },
    },
    { type: 'object', additionalProperties: false, required: ['fhirpath'], properties: { fhirpath: { type: 'string', minLength: 1 } } },
    { type: 'object', additionalProperties: false, required: ['not'], properties: { not: conditionRef } },
    { type: 'object', additionalProperties: false, required: ['all'], properties: { all: { type: 'array', items: conditionRef, minItems: 1 } } },
    { type: 'object', additionalProperties: false, required: ['any'], properties: { any: { type: 'array', items: conditionRef, minItems: 1 } } },
  ],
};

const fhirPathPattern = '^[a-z_][A-Za-z0-9]*(?:\\[\\d{1,2}\\])?(?:\\.[a-z_][A-Za-z0-9]*(?:\\[\\d{1,2}\\])?)*$';

const rule = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: sourcePath,
    value: {},
    context: { enum: Object.values(ContextValue) },
    fhirpath: { type: 'string', minLength: 1 },
    to: { type: 'string', pattern: fhirPathPattern },
    type: { type: 'string', pattern: '^(?:text|[A-Z][A-Z0-9]{1,2}\\[[A-Za-z-]+\\])$' },
    vocabulary: { type: 'string', pattern: '^[A-Za-z0-9.-]{1,64}$' },
    join: { type: 'string', maxLength: 10 },
    when: conditionRef,
    repeat: { enum: ['all', 'first'] },
    with: { type: 'array', items: { $ref: '#/$defs/rule' } },
    required: { type: 'boolean' },
    note: { type: 'string' },
  },
  anyOf: [{ required: ['from'] }, { required: ['value'] }, { required: ['context'] }, { required: ['fhirpath'] }],
};

const defs = { condition, rule };

export const datatypesFileSchema = {
  $id: 'keney:mapping:datatypes',
  type: 'object',
  additionalProperties: false,
  required: ['datatypes'],
  properties: {
    datatypes: {
      type: 'object',
      propertyNames: { pattern: '^[A-Z][A-Z0-9]{1,2}\\[[A-Za-z-]+\\]$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['fhirType', 'rules'],
        properties: {
          fhirType: { type: 'string', pattern: '^[A-Z][A-Za-z]+$' },
          resource: { type: 'boolean' },
          note: { type: 'string' },
          rules: { type: 'array', items: { $ref: '#/$defs/rule' } },
        },
      },
    },
  },
  $defs: defs,
};

export const segmentsFileSchema = {
  $id: 'keney:mapping:segments',
  type: 'object',
  additionalProperties: false,
  required: ['segments'],
  properties: {
    segments: {
      type: 'object',
      propertyNames: { pattern: '^[A-Z][A-Z0-9]{2}\\[[A-Za-z-]+\\]$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['resource', 'rules'],
        properties: {
          resource: { type: 'string', pattern: '^[A-Z][A-Za-z]+$' },
          note: { type: 'string' },
          rules: { type: 'array', items: { $ref: '#/$defs/rule' } },
        },
      },
    },
  },
  $defs: defs,
};

const structureItem = {
  oneOf: [
    { type: 'string', pattern: '^\\[?\\{?[A-Z][A-Z0-9]{2}\\}?\\]?$' },
    {
      type: 'object',
      additionalProperties: false,
      required: ['group', 'items'],
      properties: {
        group: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$' },
        optional: { type: 'boolean' },
        repeat: { type: 'boolean' },
        items: { type: 'array', minItems: 1, items: { $ref: '#/$defs/structureItem' } },
      },
    },
  ],
};

export const messageFileSchema = {
  $id: 'keney:mapping:message',
  type: 'object',
  additionalProperties: false,
  required: ['message'],
  properties: {
    message: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'events', 'structure', 'instances'],
      properties: {
        id: { type: 'string', pattern: '^[a-z0-9-]+/[a-z0-9-]+$' },
        description: { type: 'string' },
        events: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Z0-9]{3}\\^(?:[A-Z0-9]{3}|\\*)$' } },
        structure: { type: 'array', minItems: 1, items: { $ref: '#/$defs/structureItem' } },
        instances: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'segment', 'map'],
            properties: {
              name: { type: 'string', pattern: '^[a-z][A-Za-z0-9]*$' },
              segment: { type: 'string', pattern: '^[A-Z][A-Z0-9]{2}$' },
              map: { type: 'string', pattern: '^[A-Z][A-Z0-9]{2}\\[[A-Za-z-]+\\]$' },
              also: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['segment', 'map'],
                  properties: { segment: { type: 'string', pattern: '^[A-Z][A-Z0-9]{2}$' }, map: { type: 'string' }, scope: { enum: ['siblings', 'within'] } },
                },
              },
              when: conditionRef,
              references: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['path', 'instance'],
                  properties: {
                    path: { type: 'string', pattern: fhirPathPattern },
                    instance: { type: 'string' },
                    scope: { enum: ['nearest', 'within'] },
                  },
                },
              },
              write: { enum: Object.values(WriteMode) },
              key: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  identifiers: { type: 'boolean' },
                  values: { type: 'array', items: sourcePath },
                  systems: { type: 'array', items: { type: 'string' } },
                  identifiersFrom: sourcePath,
                },
              },
              operation: { type: 'object', additionalProperties: false, required: ['url'], properties: { url: { type: 'string', pattern: '^[A-Z][A-Za-z]+/\\$[a-z-]+$' } } },
            },
          },
        },
      },
    },
  },
  $defs: { ...defs, structureItem },
};
