// Acceptance 4 at the mapper level: each quality rule has a failing and a passing fixture
// (fixtures/mappings/quality); the failing one gets the rule's issue with its severity, the passing one none.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseHl7Message } from '../adapters/hl7v2/index.js';
import { createMapperRegistry, type KeneyMapperRegistry } from './index.js';
import { FhirPathQualityChecker, loadQualityRules } from './quality/quality-checker.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'mappings', 'quality');
const RULES: Record<string, { code: string; severity: 'error' | 'warning' }> = {
  'observation-effective': { code: 'QUALITY_OBSERVATION_EFFECTIVE', severity: 'error' },
  'observation-quantity-ucum': { code: 'QUALITY_QUANTITY_UCUM', severity: 'error' },
  'allergy-verification-status': { code: 'QUALITY_ALLERGY_VERIFICATION', severity: 'error' },
  'ins-key': { code: 'QUALITY_INS_BAD_KEY', severity: 'error' },
  'patient-identifier': { code: 'QUALITY_PATIENT_IDENTIFIER', severity: 'warning' },
  'plausible-range': { code: 'QUALITY_IMPLAUSIBLE_VALUE', severity: 'warning' },
};

let registry: KeneyMapperRegistry;

function mapFixture(file: string): Bundle {
  const message = parseHl7Message(readFileSync(join(DIR, file)));
  const result = registry.get('hl7v2/default')!.map(message, { channelId: 'q', messageId: file, rawSha256: '0', receivedAt: '2024-03-05T09:00:00Z' }) as { bundle: Bundle; issues: { severity: string }[] };
  expect(result.issues.filter((i) => i.severity === 'error'), file).toEqual([]);
  return result.bundle;
}

describe('quality rules', () => {
  beforeAll(() => {
    registry = createMapperRegistry();
  });

  it('has a failing and a passing fixture for every rule of rules.yaml', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.hl7'));
    const names = new Set(loadQualityRules().map((r) => r.name.replace(/-\d{1,7}-\d-.*$/, '')));
    for (const name of names) {
      expect(files, name).toContain(`${name}-fail.hl7`);
      expect(files, name).toContain(`${name}-pass.hl7`);
    }
    expect(Object.keys(RULES).sort()).toEqual([...names].sort());
  });

  for (const [name, expected] of Object.entries(RULES)) {
    it(`${name}: the failing fixture raises ${expected.code} (${expected.severity}), the passing one nothing`, () => {
      const failing = registry.quality.check(mapFixture(`${name}-fail.hl7`));
      const hit = failing.filter((i) => i.code === expected.code);
      expect(hit.length, JSON.stringify(failing)).toBeGreaterThan(0);
      expect(hit[0]!.severity).toBe(expected.severity);
      expect(hit[0]!.rule).toMatch(new RegExp(`^${name}`));
      expect(hit[0]!.message.length).toBeGreaterThan(20);
      const passing = registry.quality.check(mapFixture(`${name}-pass.hl7`));
      expect(passing.filter((i) => i.code === expected.code)).toEqual([]);
    });
  }

  it('checks the INS key with the Corsica rule (2A → 19, 2B → 18)', () => {
    const checker = registry.quality;
    const key = (base: string) => String(97 - Number(BigInt(base.replace('2A', '19').replace('2B', '18')) % 97n)).padStart(2, '0');
    const patient = (value: string): Bundle => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value }] } }],
    });
    const corsican = '185072A123456';
    expect(checker.check(patient(`${corsican}${key(corsican)}`)).filter((i) => i.code === 'QUALITY_INS_BAD_KEY')).toEqual([]);
    expect(checker.check(patient(`${corsican}${key('1850719123455')}`)).some((i) => i.code === 'QUALITY_INS_BAD_KEY')).toBe(true);
    expect(checker.check(patient('12345')).some((i) => i.code === 'QUALITY_INS_BAD_KEY')).toBe(true);
  });

  it('refuses a rules file with an unknown key, naming the file and line', () => {
    const file = join(import.meta.dirname, '..', 'fixtures', 'mappings', 'bad-rules.tmp.yaml');
    writeFileSync(file, 'rules:\n  - name: x\n    code: QUALITY_X\n    resource: Patient\n    severity: error\n    expresion: "true"\n    message: m\n');
    try {
      expect(() => new FhirPathQualityChecker(loadQualityRules(file))).toThrow(/bad-rules\.tmp\.yaml:2/);
    } finally {
      rmSync(file);
    }
  });
});
