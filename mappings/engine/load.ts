// Loads template files (YAML) and checks them against their JSON Schema; an error names the file, the line and
// what to write instead (DESIGN.md invariant 4).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Node as YamlNode } from 'yaml';
import type { DatatypeMap, MessageMap, SegmentMap } from './template.js';
import { datatypesFileSchema, messageFileSchema, segmentsFileSchema } from './template.js';

export const TemplateErrorCode = {
  Syntax: 'TEMPLATE_SYNTAX',
  Schema: 'TEMPLATE_SCHEMA',
  Reference: 'TEMPLATE_REFERENCE',
  FhirPath: 'TEMPLATE_FHIR_PATH',
  Duplicate: 'TEMPLATE_DUPLICATE',
} as const;
export type TemplateErrorCode = (typeof TemplateErrorCode)[keyof typeof TemplateErrorCode];

/** A template that cannot be used, with where and what to change. */
export class TemplateError extends Error {
  constructor(
    readonly code: TemplateErrorCode,
    message: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(`${file ? `${file}${line ? `:${line}` : ''}: ` : ''}${message}`);
    this.name = 'TemplateError';
  }
}

export interface LoadedTemplates {
  datatypes: Map<string, DatatypeMap>;
  segments: Map<string, SegmentMap>;
  messages: MessageMap[];
}

const ajv = new Ajv({ allErrors: false, strict: false });
const validators: Record<string, ValidateFunction> = {
  datatypes: ajv.compile(datatypesFileSchema),
  segments: ajv.compile(segmentsFileSchema),
  message: ajv.compile(messageFileSchema),
};

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(name)) out.push(path);
  }
  return out;
}

/** The line of the YAML node at a JSON pointer (`/segments/PID[Patient]/rules/3/to`), for error messages. */
export function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, pointer: string): number | undefined {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: YamlNode | null | undefined = doc.contents as YamlNode | null;
  let last = node;
  for (const part of parts) {
    if (isMap(node)) node = node.get(part, true) as YamlNode | undefined;
    else if (isSeq(node)) node = node.get(Number(part), true) as YamlNode | undefined;
    else break;
    if (node) last = node;
  }
  const offset = last?.range?.[0];
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

function describe(error: ErrorObject): string {
  const at = error.instancePath || '(top)';
  switch (error.keyword) {
    case 'additionalProperties':
      return `${at}: unknown key "${(error.params as { additionalProperty: string }).additionalProperty}"; see mappings/TEMPLATES.md for the keys allowed here`;
    case 'required':
      return `${at}: "${(error.params as { missingProperty: string }).missingProperty}" is required here`;
    case 'pattern':
      return `${at}: ${JSON.stringify(error.data)} does not have the expected form (${(error.params as { pattern: string }).pattern})`;
    case 'enum':
      return `${at}: must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'oneOf':
      return `${at}: does not match any allowed form (a rule needs exactly one of from/value/context/fhirpath; a condition one of valued/equals/in/event/longer/fhirpath/not/all/any)`;
    default:
      return `${at}: ${error.message ?? 'invalid'}`;
  }
}

/** Parses and schema-checks one file's text; returns its kind and content. */
export function parseTemplateText(text: string, file: string): { kind: 'datatypes' | 'segments' | 'message'; content: Record<string, unknown> } {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new TemplateError(TemplateErrorCode.Syntax, `YAML syntax: ${e.message.split('\n')[0]}`, file, e.linePos?.[0]?.line);
  }
  // Source paths such as 4.2 or 3.10 are component numbers, not decimals: keep them as written.
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'number' || !node.source?.includes('.')) return;
      const owner = [...path].reverse().find((p) => isPair(p));
      const key = isPair(owner) && isScalar(owner.key) ? String(owner.key.value) : '';
      if (['from', 'path', 'valued', 'identifiersFrom', 'values'].includes(key)) node.value = node.source;
    },
  });
  const content = doc.toJS() as Record<string, unknown> | null;
  if (!content || typeof content !== 'object') throw new TemplateError(TemplateErrorCode.Schema, 'empty template: expected a top-level "datatypes", "segments" or "message" key', file);
  const kind = (['datatypes', 'segments', 'message'] as const).find((k) => k in content);
  if (!kind) throw new TemplateError(TemplateErrorCode.Schema, `expected a top-level "datatypes", "segments" or "message" key, found ${Object.keys(content).join(', ') || 'nothing'}`, file, 1);
  const validate = validators[kind]!;
  if (!validate(content)) {
    const error = validate.errors![0]!;
    // Point at the deepest error: for oneOf, ajv reports the branches first; the last one is the summary.
    const best = validate.errors!.reduce((a, b) => (b.instancePath.length > a.instancePath.length ? b : a), error);
    throw new TemplateError(TemplateErrorCode.Schema, describe(best), file, lineOf(doc, counter, best.instancePath));
  }
  return { kind, content };
}

/** Loads every template under `dirs` (later directories may override a map of the same name). */
export function loadTemplates(dirs: string[], root = process.cwd()): LoadedTemplates {
  const out: LoadedTemplates = { datatypes: new Map(), segments: new Map(), messages: [] };
  for (const dir of dirs) {
    for (const path of yamlFiles(dir)) {
      const file = relative(root, path);
      const { kind, content } = parseTemplateText(readFileSync(path, 'utf8'), file);
      if (kind === 'datatypes') {
        for (const [name, def] of Object.entries(content.datatypes as Record<string, { fhirType: string; resource?: boolean; rules: DatatypeMap['rules'] }>)) {
          out.datatypes.set(name, { name, fhirType: def.fhirType, resource: def.resource ?? false, rules: def.rules, file });
        }
      } else if (kind === 'segments') {
        for (const [name, def] of Object.entries(content.segments as Record<string, { resource: string; rules: SegmentMap['rules'] }>)) {
          out.segments.set(name, { name, segment: name.slice(0, 3), resource: def.resource, rules: def.rules, file });
        }
      } else {
        const m = content.message as Omit<MessageMap, 'file'>;
        const existing = out.messages.findIndex((x) => x.id === m.id);
        if (existing >= 0) out.messages.splice(existing, 1);
        out.messages.push({ ...m, file });
      }
    }
  }
  return out;
}
