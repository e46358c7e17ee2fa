// The compiled FHIRPath of the templates (fast-fhirpath.ts) gives what @medplum/core's evaluator gives: every
// expression of the shipped templates, evaluated both ways on every resource and element of the mapping fixtures'
// outputs, with %value texts that exercise the string functions (empty, spaces, decimals, ranges, accents, MIME
// types), and on hand-picked cases of the functions it reimplements.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalFhirPathTyped, parseFhirPath, type TypedValue } from '@medplum/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMapperRegistry } from '../index.js';
import { compileFhirPath } from './fast-fhirpath.js';

const ROOT = join(import.meta.dirname, '..', '..');
const TEMPLATES = join(ROOT, 'mappings', 'hl7v2');
const FIXTURES = join(ROOT, 'fixtures', 'mappings');

function templateExpressions(): string[] {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'fhirpath' && typeof value === 'string') found.add(value);
        else walk(value);
      }
    }
  };
  for (const dir of readdirSync(TEMPLATES)) {
    for (const file of readdirSync(join(TEMPLATES, dir)).filter((f) => f.endsWith('.yaml')))
      walk(parse(readFileSync(join(TEMPLATES, dir, file), 'utf8')));
  }
  return [...found].sort();
}

type Json = Record<string, unknown>;

/** Every resource of the fixtures' expected outputs, and every object inside them (as an element being built). */
function inputs(): { input: TypedValue; resource: TypedValue }[] {
  const out: { input: TypedValue; resource: TypedValue }[] = [];
  for (const file of readdirSync(FIXTURES).filter((f) => /\.json$/.test(f) && f !== 'output-digests.json')) {
    const { bundle } = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as {
      bundle: { entry?: { resource?: Json }[] };
    };
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource;
      if (!resource) continue;
      const typed = { type: String(resource.resourceType), value: resource };
      out.push({ input: typed, resource: typed });
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node !== null && typeof node === 'object') {
          if (node !== resource) out.push({ input: { type: 'Element', value: node }, resource: typed });
          Object.values(node).forEach(walk);
        }
      };
      walk(resource);
    }
  }
  return out;
}

const VALUES = [
  '',
  'abc',
  '4.5',
  '3.5-5.1',
  '3,5-5,1',
  ' 3,5 - 5,1 ',
  '<20',
  'Hélène Bérénice',
  'Hélène',
  'PDF',
  'text/XML',
  'jpeg',
  'A1B2-C3',
  '  x  ',
];

type Outcome = { ok: TypedValue[] } | { error: true };
function outcome(fn: () => TypedValue[]): Outcome {
  try {
    return {
      ok: fn().map((r) => ({ type: r.type, value: (r.value as { valueOf(): unknown } | undefined)?.valueOf() })),
    };
  } catch {
    return { error: true };
  }
}

describe('compiled FHIRPath gives what medplum gives', () => {
  // As in production: the registry indexes the R4 definitions of the types the templates write, which changes how
  // properties resolve (choice types, a primitive holding only an extension).
  beforeAll(() => {
    createMapperRegistry();
  });
  const expressions = templateExpressions();

  it('on every expression of the shipped templates, over every fixture resource and element', () => {
    expect(expressions.length).toBeGreaterThan(30);
    const all = inputs();
    expect(all.length).toBeGreaterThan(500);
    const differences: string[] = [];
    for (const expression of expressions) {
      const atom = parseFhirPath(expression);
      const fast = compileFhirPath(atom);
      all.forEach(({ input, resource }, i) => {
        const variables: Record<string, TypedValue> = {
          '%resource': resource,
          '%context': input,
          '%value': { type: 'string', value: VALUES[i % VALUES.length]! },
        };
        const expected = outcome(() => evalFhirPathTyped(atom, [input], variables));
        const got = outcome(() => fast([input], variables));
        if (JSON.stringify(expected) !== JSON.stringify(got) && differences.length < 10) {
          differences.push(
            `${expression} on ${JSON.stringify(input.value).slice(0, 120)} with %value "${VALUES[i % VALUES.length]}": medplum ${JSON.stringify(expected).slice(0, 200)}, compiled ${JSON.stringify(got).slice(0, 200)}`,
          );
        }
      });
    }
    expect(differences).toEqual([]);
  });

  it('on the functions it implements itself, edge cases included', () => {
    const cases = [
      "%value.substring(0, %value.indexOf('-'))",
      '%value.substring(100)',
      '%value.substring(-1)',
      "%value.replace('-', '')",
      "%value.matches('^[0-9]+$')",
      '%value.toDecimal()',
      "%value.contains('')",
      "%value.startsWith('')",
      '%value.upper() + %value.lower()',
      "given.join(', ')",
      "given.where($this.startsWith('H')).select($this + '!')",
      'given.exists() and family.exists()',
      'given.empty() or family.empty()',
      "iif(given.count() > 1, given.last(), 'one')",
      "iif(family, 'x', 'y')",
      "given.ofType(string).first() = 'Hélène'",
      "given != 'x'",
      '1 + 2.5',
      "'a' & {} & 'b'",
      "'a' + {}",
      '%nothing.exists()',
      'status.empty()',
      'status.hasValue()',
    ];
    const inputsHere: TypedValue[] = [
      { type: 'HumanName', value: { family: 'DUPRÉ', given: ['Hélène', 'Bérénice'] } },
      { type: 'HumanName', value: { given: [] } },
      { type: 'Element', value: { family: 'X' } },
      {
        type: 'ServiceRequest',
        value: { resourceType: 'ServiceRequest', _status: { extension: [{ url: 'urn:x', valueString: 'RE' }] } },
      },
    ];
    for (const expression of cases) {
      const atom = parseFhirPath(expression);
      const fast = compileFhirPath(atom);
      for (const input of inputsHere) {
        for (const value of VALUES) {
          const variables: Record<string, TypedValue> = { '%value': { type: 'string', value } };
          expect(
            outcome(() => fast([input], variables)),
            `${expression} on ${JSON.stringify(input.value)} with %value "${value}"`,
          ).toEqual(outcome(() => evalFhirPathTyped(atom, [input], variables)));
        }
      }
    }
  });
});
