// Every shipped input maps to exactly the bytes recorded in fixtures/mappings/output-digests.json (see
// testing/output-digest.ts): the interpreter can be made faster, never different by accident. After a deliberate
// template change: `npx tsx mappings/testing/record-output-digests.ts --dump /tmp/after`, review, commit both.
import { describe, expect, it } from 'vitest';
import { digestOf, mapAllInputs, readRecordedDigests } from './testing/output-digest.js';

describe('mapping outputs are the recorded ones, byte for byte', () => {
  it('maps the fixtures, the PAM-FR stay, the bench messages and the CDC inputs to their recorded digests', () => {
    const recorded = readRecordedDigests();
    const mapped = mapAllInputs();
    expect(mapped.length).toBeGreaterThanOrEqual(290);
    const differing = mapped.filter((m) => recorded[m.name] !== digestOf(m.output)).map((m) => m.name);
    expect(
      differing,
      'outputs changed: if on purpose, re-record with npx tsx mappings/testing/record-output-digests.ts',
    ).toEqual([]);
    expect(Object.keys(recorded).sort()).toEqual(mapped.map((m) => m.name).sort());
  });
});
