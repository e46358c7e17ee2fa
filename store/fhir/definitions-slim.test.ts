// The slim R4 StructureDefinitions (the build's dist/fhir-r4) must index to exactly the schemas the full bundles
// give: if a new @medplum/core reads a field the slim copy drops, this fails (then keep that field there).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAllDataTypes, indexStructureDefinitionBundle, tryGetProfile } from '@medplum/core';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { DEFINITIONS_DIR, SLIMMED_FILES, slimStructureDefinitionBundle } from './definitions-slim.mjs';

/** A digest of every schema medplum holds, and of the schema of each profile URL in `bundles`. */
function schemasDigest(bundles: Bundle[]): string {
  const serialize = (value: unknown): string =>
    JSON.stringify(value, (key, v: unknown) =>
      key === 'parentType'
        ? (v as { name?: string } | undefined)?.name
        : v instanceof Set
          ? [...(v as Set<string>)].sort()
          : v === Infinity
            ? 'Infinity'
            : v,
    );
  const hash = createHash('sha256');
  const all = getAllDataTypes();
  for (const name of Object.keys(all).sort()) hash.update(`${name}\n${serialize(all[name])}\n`);
  const urls = bundles.flatMap((b) => (b.entry ?? []).map((e) => (e.resource as StructureDefinition | undefined)?.url));
  for (const url of urls.filter((u): u is string => !!u).sort())
    hash.update(`${url}\n${serialize(tryGetProfile(url))}\n`);
  return hash.digest('hex');
}

describe('slim R4 definitions', () => {
  it('index to the same schemas as the full bundles, at a fraction of the size', () => {
    const texts = SLIMMED_FILES.map((name) => readFileSync(join(DEFINITIONS_DIR, name), 'utf8'));
    const full = texts.map((text) => JSON.parse(text) as Bundle);
    for (const bundle of full) indexStructureDefinitionBundle(bundle);
    const fullDigest = schemasDigest(full);

    const slim = full.map((bundle) => slimStructureDefinitionBundle(bundle));
    // Indexing the slim bundles replaces every schema the full ones made (same types, same URLs).
    for (const bundle of slim) indexStructureDefinitionBundle(bundle);
    expect(schemasDigest(slim)).toBe(fullDigest);

    const slimSize = slim.reduce((n, b) => n + JSON.stringify(b).length, 0);
    const fullSize = texts.reduce((n, t) => n + t.length, 0);
    expect(slimSize).toBeLessThan(fullSize / 3);
  }, 60_000);
});
