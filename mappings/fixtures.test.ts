// The shipped message maps on their fixtures (fixtures/mappings/<message>.hl7 → <message>.json): the output is
// semantically the expected one (same resources, identifiers, codes, values, units, dates, texts, in both
// directions), the issues are the expected ones, every resource passes R4 validation (acceptance 3), and once
// applied to a real store every produced resource is reachable from its Provenance and from the MessageHeader.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, MessageHeader, Provenance } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHl7Message } from '../adapters/hl7v2/index.js';
import { validateForWrite } from '../store/fhir/validate.js';
import { parseSearch } from '../store/search/search-query.js';
import { openTestStore, type TestStore } from '../test/store-harness.js';
import { createMapperRegistry, type KeneyMapperRegistry, type MappingIssue } from './index.js';
import { fixtureContext } from './testing/fixture-context.js';
import { compareBundles } from './testing/semantic-facts.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'mappings');
const files = readdirSync(DIR).filter((f) => f.endsWith('.hl7')).sort();
let registry: KeneyMapperRegistry;

function run(file: string): { bundle: Bundle; issues: MappingIssue[] } {
  return registry.get('hl7v2/default')!.map(parseHl7Message(readFileSync(join(DIR, file))), fixtureContext(file)) as { bundle: Bundle; issues: MappingIssue[] };
}

describe('message maps on their fixtures', () => {
  let t: TestStore;
  beforeAll(async () => {
    registry = createMapperRegistry();
    t = await openTestStore('pglite');
  });
  afterAll(() => t?.close());

  it('covers every shipped message map', () => {
    const handled = new Set(files.map((f) => registry.forMessageType(...(parseHl7Message(readFileSync(join(DIR, f))).get('MSH-9.1')! + '^' + parseHl7Message(readFileSync(join(DIR, f))).get('MSH-9.2')!).split('^') as [string, string])?.id));
    for (const id of registry.ids().filter((i) => i !== 'hl7v2/default' && i !== 'hl7v2/adt')) expect(handled, id).toContain(id);
  });

  for (const file of files) {
    it(`${file}: semantically equal to ${file.replace('.hl7', '.json')}, R4-valid, applied with lineage both ways`, async () => {
      const expected = JSON.parse(readFileSync(join(DIR, file.replace(/\.hl7$/, '.json')), 'utf8')) as { bundle: Bundle; issues: MappingIssue[] };
      const { bundle, issues } = run(file);
      expect(issues.map((i) => `${i.code}@${i.location}`)).toEqual(expected.issues.map((i) => `${i.code}@${i.location}`));
      const forward = compareBundles(expected.bundle, bundle, { ignoreTypes: [] });
      const backward = compareBundles(bundle, expected.bundle, { ignoreTypes: [] });
      expect({ missing: forward.missingFacts, missingTypes: forward.missingTypes }).toEqual({ missing: [], missingTypes: [] });
      expect({ unexpected: backward.missingFacts, unexpectedTypes: backward.missingTypes }).toEqual({ unexpected: [], unexpectedTypes: [] });
      for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource), `${entry.resource?.resourceType}`).not.toThrow();

      const outcome = await t.store.submit({ bundle, origin: { kind: 'channel', channel: 'fixtures', messageId: fixtureContext(file).messageId, controlId: file } });
      expect(outcome.status, JSON.stringify(outcome.response).slice(0, 500)).toBe('applied');
      const headerId = (bundle.entry!.find((e) => e.resource?.resourceType === 'MessageHeader')!.resource as MessageHeader).id!;
      const header = JSON.parse((await t.store.read('MessageHeader', headerId)).content) as MessageHeader;
      const responses = (outcome.response as Bundle).entry!.map((e) => e.response!);
      const written = responses.map((r) => r.location!.split('/_history')[0]!).filter((l) => !l.startsWith('MessageHeader'));
      expect(new Set(header.focus!.map((f) => f.reference))).toEqual(new Set(written));
      // Every version the message points to has its Provenance; a resource it created names this message as source
      // (an unchanged one, such as the receiving application known from an earlier message, keeps its first lineage).
      for (const response of responses) {
        const [type, id] = response.location!.split('/') as [string, string];
        const provenance = (await t.store.search(parseSearch('Provenance', [['target', `${type}/${id}`]]))).matches.map((m) => JSON.parse(m.content) as Provenance);
        const forVersion = provenance.filter((p) => p.target.some((x) => x.reference === response.location));
        expect(forVersion.length, response.location).toBeGreaterThan(0);
        if (response.status?.startsWith('201')) {
          expect(forVersion.flatMap((p) => p.entity ?? []).map((e) => e.what.identifier?.value), response.location).toContain(fixtureContext(file).messageId);
        }
      }
    });
  }
});
