// Acceptance: every official FHIR R4 example (../shared/corpus/fhir/r4-official-examples, 233 files) is
// stored at its own id and read back equal (meta aside), or refused with a precise OperationOutcome.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_PROFILES, openTestHub, type TestHub } from '../../test/hub-harness.js';

const DIR = join(import.meta.dirname, '../../../shared/corpus/fhir/r4-official-examples');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

function withoutMeta(resource: Resource): unknown {
  const { meta: _meta, ...rest } = resource as Resource & { meta?: unknown };
  return rest;
}

for (const { profile, available } of HUB_PROFILES.filter((p) => p.profile !== 'cluster')) {
  describe.skipIf(!available())(`official R4 examples (${profile})`, () => {
    let t: TestHub;
    beforeAll(async () => {
      t = await openTestHub(profile);
    }, 180_000);
    afterAll(() => t?.close());

    it(`stores and reads back all ${files.length} examples, or refuses them precisely`, async () => {
      expect(files.length).toBe(233);
      const stored: string[] = [];
      const refused: { file: string; status: number; text: string }[] = [];
      for (const file of files) {
        const resource = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Resource;
        const put = await t.hub.app.inject({
          method: 'PUT',
          url: `/fhir/${resource.resourceType}/${resource.id}`,
          headers: { ...t.auth, 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
          payload: JSON.stringify(resource),
        });
        if (put.statusCode >= 400) {
          const outcome = JSON.parse(put.body) as OperationOutcome;
          refused.push({
            file,
            status: put.statusCode,
            text: outcome.issue.map((i) => i.details?.text ?? i.diagnostics).join('; '),
          });
          continue;
        }
        expect(put.statusCode, file).toBe(201);
        const read = await t.hub.app.inject({
          method: 'GET',
          url: `/fhir/${resource.resourceType}/${resource.id}`,
          headers: t.auth,
        });
        expect(read.statusCode, file).toBe(200);
        expect(withoutMeta(JSON.parse(read.body) as Resource), file).toEqual(withoutMeta(resource));
        stored.push(file);
      }
      console.log(`R4 examples on ${profile}: ${stored.length} stored and read back equal, ${refused.length} refused:`);
      for (const r of refused) console.log(`  ${r.file}: ${r.status} ${r.text}`);
      // The only refusals are the OperationOutcome examples: an operation's result is not a record.
      expect(refused.map((r) => r.file)).toEqual(['OperationOutcome-101.json', 'OperationOutcome-allok.json']);
      expect(refused.every((r) => r.status === 404 && r.text.includes('not stored'))).toBe(true);
      expect(stored).toHaveLength(231);
    }, 300_000);
  });
}
