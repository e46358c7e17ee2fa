import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitions, searchParamsOf } from '../fhir/definitions.js';
import { indexResource } from './indexer.js';

const EXAMPLES = join(import.meta.dirname, '../../../shared/corpus/fhir/r4-official-examples');

describe('indexer', () => {
  beforeAll(() => loadDefinitions());

  it('skipping expressions whose root element is absent never changes the rows (233 official examples)', () => {
    const resources = readdirSync(EXAMPLES).map((f) => JSON.parse(readFileSync(join(EXAMPLES, f), 'utf8')) as Resource);
    const fast = resources.map((r) => JSON.stringify(indexResource(r)));
    const params = [...new Set(resources.map((r) => r.resourceType))].flatMap((t) => [...searchParamsOf(t).values()]);
    const roots = params.map((p) => p.roots);
    try {
      for (const p of params) delete p.roots;
      const full = resources.map((r) => JSON.stringify(indexResource(r)));
      expect(fast).toEqual(full);
    } finally {
      params.forEach((p, i) => {
        if (roots[i]) p.roots = roots[i];
      });
    }
  });

  it('keeps the value a boolean expression gives without its element (Patient deceased=false)', () => {
    const rows = indexResource({ resourceType: 'Patient', id: 'p' });
    expect(rows.token).toContainEqual({ param: 'deceased', system: null, code: 'false', display: null });
  });

  it('indexes an INS identifier, accent-free names, and date ranges', () => {
    const rows = indexResource({
      resourceType: 'Patient',
      id: 'p',
      identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.10', value: '184127512345678', type: { text: 'INS' } }],
      name: [{ family: 'Bérénice', given: ['Hélène', 'Zoé'] }],
      birthDate: '1984-12',
    } as Resource);
    expect(rows.token).toContainEqual({
      param: 'identifier',
      system: 'urn:oid:1.2.250.1.213.1.4.10',
      code: '184127512345678',
      display: 'ins',
    });
    expect(rows.string.filter((r) => r.param === 'family')).toEqual([
      { param: 'family', value: 'berenice', exact: 'Bérénice' },
    ]);
    expect(rows.string.filter((r) => r.param === 'given').map((r) => r.value)).toEqual(['helene', 'zoe']);
    expect(rows.date).toEqual([
      { param: 'birthdate', low: '1984-12-01T00:00:00.000Z', high: '1984-12-31T23:59:59.999Z' },
    ]);
  });

  it('indexes references (relative, versioned, by identifier), open periods and ranges', () => {
    const rows = indexResource({
      resourceType: 'Encounter',
      id: 'e',
      status: 'in-progress',
      class: { code: 'IMP' },
      subject: { reference: 'Patient/p1/_history/3' },
      serviceProvider: { identifier: { system: 'urn:oid:1.2.250.1.71.4.2.2', value: '1750001234' } },
      period: { start: '2026-11-20T08:00:00+01:00' },
      length: { value: 3, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' },
    } as Resource);
    expect(rows.reference).toContainEqual({
      param: 'subject',
      targetType: 'Patient',
      targetId: 'p1',
      targetUrl: null,
      identSystem: null,
      identValue: null,
    });
    expect(rows.reference).toContainEqual({
      param: 'service-provider',
      targetType: null,
      targetId: null,
      targetUrl: null,
      identSystem: 'urn:oid:1.2.250.1.71.4.2.2',
      identValue: '1750001234',
    });
    expect(rows.date).toContainEqual({ param: 'date', low: '2026-11-20T07:00:00.000Z', high: 'infinity' });
    expect(rows.quantity).toContainEqual({
      param: 'length',
      low: 3,
      high: 3,
      system: 'http://unitsofmeasure.org',
      code: 'd',
      unit: 'd',
    });
  });
});
