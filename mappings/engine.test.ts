// The template engine: template checks at load (file and line in the error), message structure grouping, v2 →
// FHIR primitives (dates with offsets across DST), vocabulary and UCUM, and hostile input: missing segments,
// wrong datatypes, absurd dates, huge OBX counts give precise issues, never a crash.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  Bundle,
  Condition,
  Coverage,
  Device,
  Encounter,
  EpisodeOfCare,
  MessageHeader,
  Observation,
  Patient,
  PractitionerRole,
  Procedure,
  RelatedPerson,
  Specimen,
} from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseHl7Message } from '../adapters/hl7v2/index.js';
import { parseTemplateText, TemplateError } from './engine/load.js';
import { offsetOf, toDateTime, toDate, toTime } from './engine/primitives.js';
import { compileStructure, groupMessage, type SourceGroup } from './engine/source.js';
import { createMapperRegistry, type KeneyMapperRegistry, type MappingIssue } from './index.js';
import { MAPPINGS_DIR } from './engine/registry.js';
import { validateForWrite } from '../store/fhir/validate.js';

const context = {
  channelId: 'lab-in',
  messageId: 'm-1',
  rawSha256: '0'.repeat(64),
  receivedAt: '2024-03-05T09:00:00Z',
};
const MSH =
  'MSH|^~\\&|LAB|CHU^1.2.250.1.999.1^ISO|KENEY|HUB|20240305100000+0100||ORU^R01^ORU_R01|C1|P|2.5|||AL|NE|FRA|UNICODE UTF-8';
const PID = 'PID|1||IPP1^^^CHU&1.2.250.1.999.1.1&ISO^PI||TEST^ANNE||19800115|F';
const OBR = 'OBR|1|CMD1^SIH|RES1^LAB|24326-1^Ionogramme^LN|||20240305080000+0100|||||||||||||||20240305110000+0100|||F';

let registry: KeneyMapperRegistry;
function map(segments: string[]): { bundle: Bundle; issues: MappingIssue[] } {
  return registry.get('hl7v2/default')!.map(parseHl7Message(segments.join('\r')), context) as {
    bundle: Bundle;
    issues: MappingIssue[];
  };
}
const resources = <T>(b: Bundle, type: string) =>
  (b.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === type) as T[];

beforeAll(() => {
  registry = createMapperRegistry();
});

describe('templates are checked when loaded', () => {
  it('names the file and the line of an unknown key, and says what is allowed', () => {
    const text =
      'segments:\n  PID[Patient]:\n    resource: Patient\n    rules:\n      - { from: 3, to: identifier, typ: "CX[Identifier]" }\n';
    expect(() => parseTemplateText(text, 'site/pid.yaml')).toThrow(/site\/pid\.yaml:5: .*unknown key "typ"/);
  });

  it('refuses a FHIR path that is not R4, naming the map and the rule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keney-tpl-'));
    try {
      mkdirSync(join(dir, 'segments'));
      writeFileSync(
        join(dir, 'segments', 'pid.yaml'),
        'segments:\n  PID[Patient]:\n    resource: Patient\n    rules:\n      - { from: 8, to: sex }\n',
      );
      expect(() =>
        createMapperRegistry({ templateDirs: [join(MAPPINGS_DIR, 'hl7v2'), dir], terminology: registry.terminology }),
      ).toThrow(TemplateError);
      expect(() =>
        createMapperRegistry({ templateDirs: [join(MAPPINGS_DIR, 'hl7v2'), dir], terminology: registry.terminology }),
      ).toThrow(/PID\[Patient\] rule 1 .*"sex" is not an R4 path of Patient/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('refuses a reference to a ConceptMap that does not exist', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keney-tpl-'));
    try {
      writeFileSync(
        join(dir, 'pid.yaml'),
        'segments:\n  PID[Patient]:\n    resource: Patient\n    rules:\n      - { from: 8, to: gender, vocabulary: NoSuchMap }\n',
      );
      expect(() =>
        createMapperRegistry({ templateDirs: [join(MAPPINGS_DIR, 'hl7v2'), dir], terminology: registry.terminology }),
      ).toThrow(/no ConceptMap "NoSuchMap"/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('keeps source paths like 3.10 as written (component 10, not the decimal 3.1)', () => {
    const parsed = parseTemplateText(
      'datatypes:\n  XX[HumanName]:\n    fhirType: HumanName\n    rules:\n      - { from: 3.10, to: family }\n',
      'x.yaml',
    );
    expect(
      (parsed.content.datatypes as Record<string, { rules: { from: unknown }[] }>)['XX[HumanName]']!.rules[0]!.from,
    ).toBe('3.10');
  });
});

describe('message structure', () => {
  const names = (g: SourceGroup): unknown[] =>
    g.children.map((c) => ('children' in c ? { [c.name]: names(c) } : c.name));
  it('groups an ORU into patient, orders and observations, Z-segments with the group being read', () => {
    const structure = compileStructure([
      'MSH',
      { group: 'PATIENT', optional: true, items: ['PID', '[PD1]'] },
      {
        group: 'ORDER',
        repeat: true,
        items: ['[ORC]', 'OBR', '[{NTE}]', { group: 'OBS', optional: true, repeat: true, items: ['OBX', '[{NTE}]'] }],
      },
    ]);
    const issues: MappingIssue[] = [];
    const root = groupMessage(
      parseHl7Message(
        [MSH, PID, 'ORC|NW', OBR, 'NTE|1||n', 'OBX|1|NM|x', 'ZXX|1', 'NTE|2||n', 'OBX|2|NM|y', OBR].join('\r'),
      ),
      structure,
      issues,
    );
    expect(names(root)).toEqual([
      'MSH',
      { PATIENT: ['PID'] },
      { ORDER: ['ORC', 'OBR', 'NTE', { OBS: ['OBX', 'ZXX', 'NTE'] }, { OBS: ['OBX'] }] },
      { ORDER: ['OBR'] },
    ]);
    expect(issues).toEqual([]);
  });

  it('keeps a segment out of place and says where it is', () => {
    const issues: MappingIssue[] = [];
    groupMessage(parseHl7Message([MSH, 'OBX|1|NM|x', PID].join('\r')), compileStructure(['MSH', 'PID']), issues);
    expect(issues[0]).toMatchObject({ severity: 'information', code: 'UNEXPECTED_SEGMENT', location: 'OBX[1]' });
  });
});

describe('v2 → FHIR primitives', () => {
  it('gives a time without offset the offset of the sender zone, summer and winter', () => {
    expect(offsetOf('2024-01-15T10:00:00', 'Europe/Paris')).toBe('+01:00');
    expect(offsetOf('2024-07-15T10:00:00', 'Europe/Paris')).toBe('+02:00');
    expect(toDateTime('202407151000', 'Europe/Paris')).toBe('2024-07-15T10:00:00+02:00');
    expect(toDateTime('2024071510', 'Europe/Paris')).toBe('2024-07-15T10:00:00+02:00');
    expect(toDateTime('20240715100000-0500', 'Europe/Paris')).toBe('2024-07-15T10:00:00-05:00');
    expect(toDateTime('202407', 'Europe/Paris')).toBe('2024-07');
  });
  it('refuses absurd dates and times with the reason', () => {
    expect(() => toDate('20241301')).toThrow(/month 13/);
    expect(() => toDate('20230229')).toThrow(/day 29/);
    expect(() => toDate('00010101')).toThrow(/outside 1800–2200/);
    expect(() => toTime('2561')).toThrow(/not an HL7 time/);
  });
});

describe('mapping results', () => {
  it('maps an ORU: numeric result with UCUM unit, reference range, interpretation, status, effective time', () => {
    const { bundle, issues } = map([
      MSH,
      PID,
      OBR,
      'OBX|1|NM|2823-3^Potassium^LN||4.2|mmol/l^mmol/l^L|3.5-5.1|H|||F|||20240305080000+0100',
    ]);
    expect(issues.filter((i) => i.severity !== 'information')).toEqual([]);
    const [obs] = resources<Observation>(bundle, 'Observation');
    expect(obs!.valueQuantity).toEqual({
      value: 4.2,
      unit: 'mmol/l',
      system: 'http://unitsofmeasure.org',
      code: 'mmol/L',
    });
    expect(obs!.referenceRange?.[0]).toMatchObject({
      text: '3.5-5.1',
      low: { value: 3.5, code: 'mmol/L' },
      high: { value: 5.1, code: 'mmol/L' },
    });
    expect(obs!.interpretation?.[0]?.coding?.[0]).toMatchObject({
      system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
      code: 'H',
    });
    expect(obs!.status).toBe('final');
    expect(obs!.effectiveDateTime).toBe('2024-03-05T08:00:00+01:00');
    const entry = bundle.entry!.find((e) => e.resource === obs)!;
    expect(entry.request?.method).toBe('PUT');
  });

  it('maps SN values to Quantity with comparator, Range and Ratio', () => {
    const { bundle } = map([
      MSH,
      PID,
      OBR,
      'OBX|1|SN|1^a^LN||<^0.5|g/L^g/L^UCUM||||F|||202403050800',
      'OBX|2|SN|2^b^LN||^10^-^20|g/L|||||F|||202403050800',
      'OBX|3|SN|3^c^LN||^1^:^128||||F|||202403050800',
    ]);
    const [q, r, ratio] = resources<Observation>(bundle, 'Observation');
    expect(q!.valueQuantity).toMatchObject({ comparator: '<', value: 0.5, code: 'g/L' });
    expect(r!.valueRange).toMatchObject({ low: { value: 10 }, high: { value: 20 } });
    expect(ratio!.valueRatio).toMatchObject({ numerator: { value: 1 }, denominator: { value: 128 } });
  });

  it('keeps an unmapped local code and a non-UCUM unit, and flags both', () => {
    const { bundle, issues } = map([
      MSH,
      PID,
      OBR,
      'OBX|1|NM|ZZTOP^Local test^L||7|bananas^bananas^L||ZZ|||F|||202403050800',
    ]);
    const [obs] = resources<Observation>(bundle, 'Observation');
    expect(obs!.code.coding?.[0]).toMatchObject({ code: 'ZZTOP' });
    expect(obs!.valueQuantity).toEqual({ value: 7, unit: 'bananas' });
    expect(issues.map((i) => i.code)).toEqual(expect.arrayContaining(['UNMAPPED_CODE', 'UNMAPPED_UNIT']));
    expect(issues.find((i) => i.code === 'UNMAPPED_UNIT')!.location).toBe('OBX[1]-6');
  });

  it('translates a local lab code to LOINC and keeps the local coding', () => {
    const { bundle } = map([MSH, PID, OBR, 'OBX|1|NM|K^Potassium^L||4.2|mmol/L^mmol/L^UCUM||N|||F|||202403050800']);
    const [obs] = resources<Observation>(bundle, 'Observation');
    expect(obs!.code.coding?.map((c) => `${c.system}|${c.code}`)).toEqual([
      'http://loinc.org|2823-3',
      'https://terminology.hl7.org/CodeSystem-v2-0396.html#v2-0396-99zzzorL|K',
    ]);
  });

  it('is deterministic: the same message maps to the same Bundle', () => {
    const segs = [MSH, PID, OBR, 'OBX|1|NM|2823-3^Potassium^LN||4.2|mmol/L^mmol/L^UCUM||N|||F|||202403050800'];
    expect(JSON.stringify(map(segs).bundle)).toBe(JSON.stringify(map(segs).bundle));
  });
});

describe('hostile input gives precise issues, never a crash', () => {
  it('a message type no map handles: an error naming MSH-9 and what is supported', () => {
    const { issues } = map(['MSH|^~\\&|A|B|C|D|20240101||ZZZ^Z99|1|P|2.5']);
    expect(issues[0]).toMatchObject({ severity: 'error', code: 'UNSUPPORTED_MESSAGE_TYPE', location: 'MSH-9' });
    expect(issues[0]!.message).toMatch(/ADT\^\*/);
  });

  it('an ORU without PID, OBR or OBX still maps what is there', () => {
    const { bundle, issues } = map([MSH]);
    expect(resources(bundle, 'MessageHeader')).toHaveLength(1);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('an OBX without OBX-3 is an error at OBX[1]-3 (the result has no meaning without its code)', () => {
    const { issues } = map([MSH, PID, OBR, 'OBX|1|NM|||4.2']);
    expect(issues).toContainEqual(
      expect.objectContaining({ severity: 'error', code: 'REQUIRED_MISSING', location: 'OBX[1]-3' }),
    );
  });

  it('wrong datatypes and absurd dates: warnings at the exact location, the value left out', () => {
    const { bundle, issues } = map([
      MSH,
      'PID|1||IPP1^^^CHU&1.2.250.1.999.1.1&ISO^PI||TEST^ANNE||19801345|F',
      OBR,
      'OBX|1|NM|2823-3^K^LN||four point two|mmol/L^mmol/L^UCUM||N|||F|||99999999',
    ]);
    expect(issues).toContainEqual(expect.objectContaining({ code: 'BAD_VALUE', location: 'PID[1]-7' }));
    expect(issues).toContainEqual(expect.objectContaining({ code: 'BAD_VALUE', location: 'OBX[1]-5' }));
    expect(issues).toContainEqual(expect.objectContaining({ code: 'BAD_VALUE', location: 'OBX[1]-14' }));
    expect(resources<Patient>(bundle, 'Patient')[0]!.birthDate).toBeUndefined();
    expect(resources<Observation>(bundle, 'Observation')[0]!.valueQuantity?.value).toBeUndefined();
  });

  it('5,000 OBX map to 5,000 distinct Observations referenced by the report', () => {
    const obx = Array.from(
      { length: 5000 },
      (_, i) => `OBX|${i + 1}|NM|2823-3^K^LN|${i}|4.${i % 10}|mmol/L^mmol/L^UCUM||N|||F|||202403050800`,
    );
    const { bundle, issues } = map([MSH, PID, OBR, ...obx]);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const observations = resources<Observation>(bundle, 'Observation');
    expect(observations).toHaveLength(5000);
    expect(new Set(bundle.entry!.map((e) => e.request!.url)).size).toBe(bundle.entry!.length);
    const report = resources<{ result?: unknown[] }>(bundle, 'DiagnosticReport')[0]!;
    expect(report.result).toHaveLength(5000);
  });

  it('a huge field and escape sequences in text do not break the mapping', () => {
    const big = 'x'.repeat(200_000);
    const { bundle } = map([MSH, PID, OBR, `OBX|1|TX|1^a^L||${big}\\F\\${big}||||||F|||202403050800`]);
    expect(resources<Observation>(bundle, 'Observation')[0]!.valueString).toHaveLength(400_001);
  });
});

describe('person names (XPN → HumanName, IG XPN[HumanName])', () => {
  const ADT =
    'MSH|^~\\&|SIH|CHU^1.2.250.1.999.1^ISO|KENEY|HUB|20240305100000+0100||ADT^A28^ADT_A05|C2|P|2.5^FRA^2.11|||AL|NE|FRA|UNICODE UTF-8';
  const names = (pid5: string) =>
    resources<Patient>(
      map([ADT, 'EVN||20240305100000', `PID|1||IPP9^^^CHU&1.2.250.1.999.1.1&ISO^PI||${pid5}||19850312|F`]).bundle,
      'Patient',
    )[0]!.name;

  it('PAM-FR: XPN-3 lists every birth given name, the first (XPN-2) included: it is given once, then the others', () => {
    expect(names('TESTDUPRÉ^HÉLÈNE^HÉLÈNE BÉRÉNICE^^^^L~TESTMARTIN^HÉLÈNE^^^^^D')).toEqual([
      { family: 'TESTDUPRÉ', given: ['HÉLÈNE', 'BÉRÉNICE'], use: 'official' },
      { family: 'TESTMARTIN', given: ['HÉLÈNE'], use: 'usual' },
    ]);
    expect(names('TESTDUPRÉ^HÉLÈNE^HÉLÈNE  BÉRÉNICE ANNE^^^^L')![0]!.given).toEqual(['HÉLÈNE', 'BÉRÉNICE ANNE']);
    expect(names('TESTDUPRÉ^HÉLÈNE^HÉLÈNE^^^^L')![0]!.given).toEqual(['HÉLÈNE']);
  });

  it('a plain second given name (a middle name) is kept after the first, even when it starts like it', () => {
    expect(names('SMITH^JOHN^QUINCY^^^^L')![0]!.given).toEqual(['JOHN', 'QUINCY']);
    expect(names('SMITH^JO^JOHN PAUL^^^^L')![0]!.given).toEqual(['JO', 'JOHN PAUL']);
    expect(names('SMITH^^QUINCY^^^^L')![0]!.given).toEqual(['QUINCY']);
  });
});

describe('MessageHeader.source (IG MSH[MessageHeader], MSH-3 and MSH-24 rows)', () => {
  const header = (msh: string) =>
    resources<MessageHeader>(
      map([msh, PID, OBR, 'OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F|||20240305080000+0100']).bundle,
      'MessageHeader',
    )[0]!;

  it('neither MSH-3 nor MSH-24: no endpoint invented, the data-absent-reason "unknown" instead (still R4-valid)', () => {
    const h = header('MSH|^~\\&|||KENEY|HUB|20240305100000+0100||ORU^R01^ORU_R01|C9|P|2.5');
    expect(h.source).toEqual({
      _endpoint: {
        extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }],
      },
    });
    expect(() => validateForWrite(h)).not.toThrow();
  });

  it('MSH-3 with a namespace only: the channel that received the message is the endpoint; with an OID, the OID', () => {
    expect(header('MSH|^~\\&|LAB||KENEY|HUB|20240305100000+0100||ORU^R01^ORU_R01|C9|P|2.5').source).toEqual({
      name: 'LAB',
      endpoint: 'urn:keney:channel:lab-in',
    });
    expect(
      header('MSH|^~\\&|LAB^1.2.250.1.999.7^ISO||KENEY|HUB|20240305100000+0100||ORU^R01^ORU_R01|C9|P|2.5').source,
    ).toEqual({ name: 'LAB', endpoint: 'urn:oid:1.2.250.1.999.7' });
  });
});

describe('ServiceRequest.status from ORC (IG ORC[ServiceRequest], OrderControlCode map)', () => {
  const status = (orc: string) => {
    const { bundle } = map(['MSH|^~\\&|LIS||KENEY|HUB|20240305100000+0100||OML^O21^OML_O21|C7|P|2.5', PID, orc, OBR]);
    return resources<{ status?: string; _status?: unknown }>(bundle, 'ServiceRequest')[0]!;
  };
  it('an ORC-1 the IG map gives no status (RE) and no ORC-5: status unknown (1..1 in R4), the code kept in an extension', () => {
    expect(status('ORC|RE|CMD1')).toMatchObject({ status: 'unknown', _status: { extension: [{ valueString: 'RE' }] } });
  });
  it('an ORC-1 the IG map knows, or an ORC-5, gives the status', () => {
    expect(status('ORC|NW|CMD1').status).toBe('active');
    expect(status('ORC|RE|CMD1|||CM').status).toBe('completed');
  });
});

describe('status codes the IG maps leave without a target (OBX-11, OBR-25)', () => {
  it('status unknown (1..1 in R4), the sent code kept in _status; OBX-11 N also gives dataAbsentReason not-asked', () => {
    const { bundle } = map([
      MSH,
      PID,
      OBR.replace(/\|F$/, '|A'),
      'OBX|1|NM|2823-3^K^LN||||||||N|||20240305080000+0100',
    ]);
    const observation = resources<Observation & { _status?: unknown }>(bundle, 'Observation')[0]!;
    expect(observation).toMatchObject({
      status: 'unknown',
      _status: { extension: [{ valueString: 'N' }] },
      dataAbsentReason: { coding: [{ code: 'not-asked' }] },
    });
    expect(resources<{ status?: string }>(bundle, 'DiagnosticReport')[0]!.status).toBe('unknown');
    const final = map([MSH, PID, OBR, 'OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F|||20240305080000+0100']).bundle;
    expect(resources<Observation>(final, 'Observation')[0]!.status).toBe('final');
    expect(resources<{ status?: string }>(final, 'DiagnosticReport')[0]!.status).toBe('final');
  });
});

describe('status and class fallbacks when the sent code has no target in the IG map (Encounter, Appointment, ServiceRequest)', () => {
  // Once the R4 definitions are loaded, FHIRPath counts a primitive holding only the unmapped code's extension as
  // present: a `status.empty()` fallback never fired. The conditions name the codes the IG maps map instead.
  const ADT = 'MSH|^~\\&|A|B|C|D|20240305100000+0100||ADT^A08^ADT_A01|C1|P|2.5';
  const encounter = (pv1: string) =>
    resources<{ status?: string; class?: { system?: string; code?: string } }>(
      map([ADT, 'EVN|A08|20240305100000', PID, pv1]).bundle,
      'Encounter',
    )[0]!;

  it('PV1-2 the map does not know: Encounter in-progress, class v3-NullFlavor UNK (no ActCode system without a code), R4-valid', () => {
    const e = encounter('PV1|1|X|||||||||||||||||NDA1');
    expect(e.status).toBe('in-progress');
    expect(e.class).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'UNK' });
    expect(() => validateForWrite(e)).not.toThrow();
    expect(encounter('PV1|1|I|||||||||||||||||NDA1').class).toEqual({
      system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
      code: 'IMP',
    });
    expect(encounter('PV1|1|I|||||||||||||||||NDA1').status).toBe('in-progress');
    expect(encounter('PV1|1|P|||||||||||||||||NDA1').status).toBe('planned');
  });

  it('SCH-25 the map does not know (Overbook): Appointment booked; a known one (Cancelled) kept', () => {
    const appointment = (sch25: string) =>
      resources<{ status?: string }>(
        map([
          'MSH|^~\\&|A|B|C|D|20240305100000+0100||SIU^S12^SIU_S12|C1|P|2.5',
          `SCH|RDV1|RDV1F${'|'.repeat(23)}${sch25}`,
          PID,
        ]).bundle,
        'Appointment',
      )[0]!.status;
    expect(appointment('Overbook')).toBe('booked');
    expect(appointment('Cancelled')).toBe('cancelled');
    expect(appointment('')).toBe('booked');
  });

  it('ORC-5 the OrderStatus map does not know (A): ServiceRequest unknown; a known ORC-5 (CM) kept', () => {
    const status = (orc: string) =>
      resources<{ status?: string }>(
        map(['MSH|^~\\&|LIS||KENEY|HUB|20240305100000+0100||OML^O21^OML_O21|C7|P|2.5', PID, orc, OBR]).bundle,
        'ServiceRequest',
      )[0]!.status;
    expect(status('ORC|NW|CMD1|||A')).toBe('unknown');
    expect(status('ORC|NW|CMD1|||CM')).toBe('completed');
  });
});

describe('OBX-7 reference range read as numbers', () => {
  const range = (obx7: string) =>
    resources<Observation>(
      map([MSH, PID, OBR, `OBX|1|NM|2823-3^K^LN||4.2|mmol/l^mmol/l^L|${obx7}||||F|||20240305080000+0100`]).bundle,
      'Observation',
    )[0]!.referenceRange?.[0];

  it('with spaces and decimal commas ( 3,5 - 5,1 ): low 3.5 and high 5.1 in the OBX-6 unit', () => {
    expect(range(' 3,5 - 5,1 ')).toMatchObject({
      low: { value: 3.5, code: 'mmol/L' },
      high: { value: 5.1, code: 'mmol/L' },
    });
  });

  it('anything else stays text only (s3,5-5,1s, <5, 3-, 1-2-3)', () => {
    for (const text of ['s3,5-5,1s', '<5', '3-', '1-2-3']) {
      const r = range(text);
      expect(r?.low, text).toBeUndefined();
      expect(r?.high, text).toBeUndefined();
      expect(r?.text, text).toBe(text);
    }
  });
});

describe('coded Patient extensions (PID-17, -26, -28, -35, -39)', () => {
  const patient = (pid39: string) =>
    resources<Patient>(
      map([MSH, `PID|1||IPP1^^^CHU&1.2.250.1.999.1.1&ISO^PI||TEST^ANNE||19800115|F${'|'.repeat(31)}${pid39}`]).bundle,
      'Patient',
    )[0]!;

  it('a CWE with only its coding system OID (CWE-14, unmapped by the IG) gives no extension, and the Patient is R4-valid', () => {
    const p = patient('^^^^^^^^^^^^^TEST1234');
    expect(p.extension ?? []).toEqual([]);
    expect(() => validateForWrite(p)).not.toThrow();
  });

  it('a CWE with a code keeps the citizenship extension', () => {
    const p = patient('FRA^France^ISO3166');
    expect(p.extension?.find((e) => e.url.endsWith('patient-citizenship'))).toMatchObject({
      extension: [{ url: 'code', valueCodeableConcept: { coding: [{ code: 'FRA' }] } }],
    });
    expect(() => validateForWrite(p)).not.toThrow();
  });
});

describe('assigning organizations, facilities and devices the IG maps to resources (CX-4/-6, MSH-22, XON-8, OBX-18)', () => {
  it('CX-6 → an Organization referenced from the identifier; CX-4 with a non-URI HD-3 (CLIA) → an assigner Organization too', () => {
    const { bundle } = map([
      MSH,
      'PID|1||IPP1^^^LABO&05D1234567&CLIA^PI^CHU&1.2.250.1.999.1&ISO||TEST^ANNE||19800115|F',
    ]);
    const patient = resources<Patient>(bundle, 'Patient')[0]!;
    const identifier = patient.identifier![0]!;
    expect(identifier.value).toBe('IPP1');
    const organizations = resources<{ id?: string; identifier?: { value?: string }[] }>(bundle, 'Organization');
    const fullUrlOf = (value: string) =>
      bundle.entry!.find((e) =>
        organizations.some((o) => o === e.resource && o.identifier?.some((i) => i.value === value)),
      )?.fullUrl;
    expect(identifier.assigner?.reference).toBe(fullUrlOf('05D1234567'));
    expect(
      identifier.extension?.find((e) => e.url.endsWith('identifier-assigning-facility'))?.valueReference?.reference,
    ).toBe(fullUrlOf('1.2.250.1.999.1'));
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });

  it('MSH-22 → MessageHeader.responsible, its XON-8 a Location (site); OBX-18 → Observation.device; all R4-valid', () => {
    const { bundle } = map([
      `${MSH}||||^^^^^^^CHU Site Nord&1.2.250.1.999.9&ISO`,
      PID,
      OBR,
      'OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F|||20240305080000+0100||||AUTOMATE-7^LAB',
    ]);
    const header = resources<MessageHeader>(bundle, 'MessageHeader')[0]!;
    const responsible = bundle.entry!.find((e) => e.fullUrl === header.responsible?.reference)?.resource;
    expect(responsible?.resourceType).toBe('Organization');
    expect(resources<{ name?: string; physicalType?: unknown }>(bundle, 'Location')[0]).toMatchObject({
      name: 'CHU Site Nord',
      physicalType: { coding: [{ code: 'si' }] },
    });
    const observation = resources<Observation>(bundle, 'Observation')[0]!;
    const device = bundle.entry!.find((e) => e.fullUrl === observation.device?.reference)?.resource;
    expect(device).toMatchObject({ resourceType: 'Device', identifier: [{ value: 'AUTOMATE-7' }] });
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });
});

describe('NK1 → Patient.contact (IG NK1[Patient]), next to the RelatedPerson', () => {
  it('one contact per NK1 with a name, address or telecom; an NK1 with none gives no contact (R4 pat-1); R4-valid', () => {
    const { bundle } = map([
      'MSH|^~\\&|A|B|C|D|20240305100000+0100||ADT^A08^ADT_A01|C1|P|2.5',
      'EVN|A08|20240305100000',
      'PID|1||IPP1^^^CHU&1.2.250.1.999.1.1&ISO^PI||TESTDUPRÉ^HÉLÈNE||19800115|F',
      'NK1|1|TESTDUPRÉ^PAUL|SPO^Spouse^HL70063|||||20200101',
      'NK1|2|||||||20200101',
      'NK1||^MARC|||0601020304^PRN^CP',
    ]);
    const patient = resources<Patient>(bundle, 'Patient')[0]!;
    expect(patient.contact).toEqual([
      {
        name: { family: 'TESTDUPRÉ', given: ['PAUL'] },
        // The IG's Relationship ConceptMap translates table 0063 into v3 RoleCode, the original coding kept after it.
        relationship: [
          {
            coding: [
              { code: 'SPS', display: 'spouse', system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode' },
              { code: 'SPO', display: 'Spouse', system: 'http://terminology.hl7.org/CodeSystem/v2-0063' },
            ],
          },
        ],
        period: { start: '2020-01-01' },
      },
      { name: { given: ['MARC'] }, telecom: [{ use: 'home', system: 'mobile', value: '0601020304' }] },
    ]);
    expect(() => validateForWrite(patient)).not.toThrow();
    expect(resources(bundle, 'RelatedPerson').length).toBeGreaterThanOrEqual(2);
  });
});

describe('DG1 → Condition and PR1 → Procedure (IG DG1[Condition], PR1[Procedure]): the DIM view', () => {
  const adt = (extra: string[]) =>
    map([
      'MSH|^~\\&|A|B|C|D|20240305100000+0100||ADT^A08^ADT_A01|C1|P|2.5',
      'EVN|A08|20240305100000',
      PID,
      'PV1|1|I|||||||||||||||||NDA1^^^CHU&1.2.250.1.999.1.2&ISO^AN',
      ...extra,
    ]);

  it('a local diagnosis code is translated to CIM-10 and the original kept; the act keeps its CCAM code; both point to the stay', () => {
    const { bundle, issues } = adt([
      'DG1|1||HTA^Hypertension^L||20240305|F',
      'DG1|2||E11^Diabète de type 2^CIM10||20240301|A',
      'PR1|1||DEQP003^Électrocardiographie sur au moins 12 dérivations^CCAM||20240305103000+0100|||10001234567^TESTCHIR^PAUL^^^^^^RPPS',
    ]);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const [hta, diabetes] = resources<Condition>(bundle, 'Condition');
    expect(hta!.code!.coding![0]).toMatchObject({ code: 'I10' });
    expect(hta!.code!.coding![0]!.system).toMatch(/cim-10/);
    expect(hta!.code!.coding![1]).toMatchObject({ code: 'HTA' });
    expect(diabetes!.code!.coding![0]).toMatchObject({ code: 'E11' });
    expect(diabetes!.category![0]!.coding![0]!.code).toBe('encounter-diagnosis');
    expect(diabetes!.onsetDateTime).toBe('2024-03-01');
    const stay = resources<Encounter>(bundle, 'Encounter')[0]!;
    const fullUrlOf = (r: unknown) => bundle.entry!.find((e) => e.resource === r)?.fullUrl;
    const patient = resources<Patient>(bundle, 'Patient')[0]!;
    for (const c of [hta!, diabetes!]) {
      expect(c.subject.reference).toBe(fullUrlOf(patient));
      expect(c.encounter?.reference).toBe(fullUrlOf(stay));
    }
    const [ecg] = resources<Procedure>(bundle, 'Procedure');
    expect(ecg).toMatchObject({ status: 'completed', performedDateTime: '2024-03-05T10:30:00+01:00' });
    expect(ecg!.code!.coding![0]).toMatchObject({ code: 'DEQP003' });
    expect(ecg!.encounter?.reference).toBe(fullUrlOf(stay));
    expect(ecg!.performer?.[0]?.function?.coding?.[0]?.code).toBe('88189002');
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });

  it('DG1-21 D marks the diagnosis entered-in-error; a DG1 without a code gives nothing and refuses nothing', () => {
    const { bundle, issues } = adt([
      'DG1|1||I10^Hypertension essentielle^CIM10||20240305|F|||||||||||||||D',
      'DG1|2||||20240305|F',
    ]);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const conditions = resources<Condition>(bundle, 'Condition');
    expect(conditions).toHaveLength(1);
    expect(conditions[0]!.verificationStatus?.coding?.[0]?.code).toBe('entered-in-error');
    expect(() => validateForWrite(conditions[0])).not.toThrow();
  });
});

describe("ROL → the patient's primary care provider (IG ROL[Patient-GeneralPractitioner], PAM-FR médecin traitant)", () => {
  it('ROL-3 FHCP (PAM-FR) or PP (IG) after PID: a PractitionerRole the Patient points to; a deleted role (ROL-2 DE) is not', () => {
    const { bundle, issues } = map([
      'MSH|^~\\&|A|B|C|D|20240305100000+0100||ADT^A08^ADT_A01|C1|P|2.5^FRA^2.11',
      'EVN|A08|20240305100000',
      PID,
      'ROL|1|AD|FHCP^Médecin traitant^HL70443|10001234567^TESTGP^ANNE^^^^^^RPPS&1.2.250.1.71.4.2.1&ISO^^^^RPPS|20200101',
      'ROL|2|DE|FHCP^Médecin traitant^HL70443|10009999999^TESTANCIEN^LOUIS^^^^^^RPPS&1.2.250.1.71.4.2.1&ISO^^^^RPPS',
      'PV1|1|I|||||||||||||||||NDA1^^^CHU&1.2.250.1.999.1.2&ISO^AN',
    ]);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const patient = resources<Patient>(bundle, 'Patient')[0]!;
    const byUrl = (url?: string) => bundle.entry!.find((e) => e.fullUrl === url)?.resource;
    const roles = (patient.generalPractitioner ?? []).map((r) => byUrl(r.reference) as PractitionerRole);
    expect(roles).toHaveLength(1);
    expect(roles[0]).toMatchObject({ resourceType: 'PractitionerRole', period: { start: '2020-01-01' } });
    expect(roles[0]!.code![0]!.coding!.map((c) => c.code)).toContain('FHCP');
    expect(byUrl(roles[0]!.practitioner?.reference)).toMatchObject({
      resourceType: 'Practitioner',
      identifier: [{ value: '10001234567', system: 'urn:oid:1.2.250.1.71.4.2.1' }],
      name: [{ family: 'TESTGP', given: ['ANNE'] }],
    });
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });
});

describe('MDM document status (IG TXA-19)', () => {
  const mdm = (event: string, txa19: string) =>
    map([
      `MSH|^~\\&|DPI|CHU|HUB|CHU|20240305120000+0100||MDM^${event}^MDM_T01|MSG9|P|2.6`,
      `EVN|${event}|20240305120000+0100`,
      PID,
      'PV1|1|I',
      `TXA|1|11490-0^Lettre de sortie^LN|TX|20240305||20240305120000+0100|||||DR^LETTRE|DOC1^DPI^1.2.250.1.999.5^ISO|||||LA||${txa19}||||||Lettre de sortie`,
      // A PDF of 8 bytes ("%PDF-1.4"): DocumentReference.content is 1..1.
      'OBX|1|ED|11490-0^Lettre de sortie^LN||^application^pdf^Base64^JVBERi0xLjQ=||||||F',
    ]);
  const statusOf = (event: string, txa19: string) => {
    const doc = resources<{ status: string; description?: string }>(mdm(event, txa19).bundle, 'DocumentReference')[0]!;
    return doc.status;
  };

  it('AV is current, CA entered-in-error, OB superseded, and an MDM^T11 (cancel) is entered-in-error whatever TXA-19 says', () => {
    expect(statusOf('T02', 'AV')).toBe('current');
    expect(statusOf('T02', '')).toBe('current');
    expect(statusOf('T04', 'CA')).toBe('entered-in-error');
    expect(statusOf('T04', 'OB')).toBe('superseded');
    expect(statusOf('T11', 'AV')).toBe('entered-in-error');
    const { bundle } = mdm('T04', 'CA');
    const doc = resources<Record<string, unknown>>(bundle, 'DocumentReference')[0]!;
    expect(doc._status).toEqual({
      extension: [
        {
          url: 'http://hl7.org/fhir/StructureDefinition/alternate-codes',
          valueCodeableConcept: { coding: [{ code: 'CA', system: 'http://terminology.hl7.org/CodeSystem/v2-0273' }] },
        },
      ],
    });
    expect(doc.description).toBe('Lettre de sortie');
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });
});

describe('RelatedPersons belong to one patient (TEMPLATES.md deviation 13)', () => {
  const adt = (ipp: string, extra: string[]) =>
    map([
      'MSH|^~\\&|A|B|C|D|20240305100000+0100||ADT^A01^ADT_A01|C1|P|2.5',
      'EVN|A01|20240305100000',
      `PID|1||${ipp}^^^CHU&1.2.250.1.999.1.1&ISO^PI||TESTJUMEAU^${ipp}||20240301|F|||||||||||||IPP500^^^CHU&1.2.250.1.999.1.1&ISO^PI`,
      ...extra,
    ]);
  const relatedPersons = (b: Bundle) => (b.entry ?? []).filter((e) => e.resource?.resourceType === 'RelatedPerson');

  it('twins: the same mother (PID-21) and the same contact (NK1 with an identifier with a system) give one RelatedPerson per twin', () => {
    const nk1 =
      'NK1|1|TESTMÈRE^JULIE|MTH^Mother^HL70063|||||||||||||||||||||||||||||||IPP500^^^CHU&1.2.250.1.999.1.1&ISO^PI';
    const [a, b] = [adt('IPP601', [nk1]), adt('IPP602', [nk1])];
    for (const { bundle } of [a, b]) {
      const mother = relatedPersons(bundle).find(
        (e) => (e.resource as RelatedPerson).relationship?.[0]?.coding?.[0]?.code === 'MTH',
      );
      expect(mother?.resource).toMatchObject({
        identifier: [{ value: 'IPP500', system: 'urn:oid:1.2.250.1.999.1.1' }],
      });
      // Written at an id of its own (PUT RelatedPerson/<id>), never conditionally on the mother's identifier.
      for (const e of relatedPersons(bundle)) expect(e.request?.url).toMatch(/^RelatedPerson\/[0-9a-f-]{36}$/);
    }
    const urls = (r: typeof a) =>
      relatedPersons(r.bundle)
        .map((e) => e.request!.url)
        .sort();
    expect(urls(a)).toHaveLength(2);
    expect(urls(a).filter((u) => urls(b).includes(u))).toEqual([]);
    // The same message again converges on the same ids (a replay updates, it does not duplicate).
    expect(urls(adt('IPP601', [nk1]))).toEqual(urls(a));
  });
});

describe('IN1 → Coverage (IG IN1[Coverage]), French AMO and AMC', () => {
  // Synthetic: the child is covered by the mother's AMO (insured = mother, IN1-17 MTH) and has a mutual (AMC) of
  // her own (SEL); a third IN1 names no fund and gives no Coverage (R4: payor 1..*).
  const ADT = [
    'MSH|^~\\&|A|B|C|D|20240305100000+0100||ADT^A01^ADT_A01|C1|P|2.5',
    'EVN|A01|20240305100000',
    'PID|1||IPP9^^^CHU&1.2.250.1.999.1.1&ISO^PI||TESTENFANT^LÉA||20150310|F',
    'PV1|1|I|||||||||||||||||NDA9^^^CHU&1.2.250.1.999.1.2&ISO^VN',
    'IN1|1|AMO^Assurance maladie obligatoire|011751234^^^AMO&1.2.250.1.213.1.4.1&ISO|CPAM DE TEST^^^^^^^^^011751234|1 RUE DU TEST^^PARIS^^75001^FRA|||||||20240101|20241231||AMO|TESTMÈRE^JULIE|MTH^Mother^HL70063|19850202|1 RUE DU TEST^^PARIS^^75001^FRA',
    'IN1|2|AMC^Complémentaire|99887766|MUTUELLE TEST||||||||20240101|||AMC||SEL^Self^HL70063',
    'IN1|3|AMC',
  ];

  it('one Coverage per IN1 that names a fund: payor, period, beneficiary; the subscriber is the insured of its own IN1', () => {
    const { bundle, issues } = map(ADT);
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const coverages = resources<Coverage>(bundle, 'Coverage');
    expect(coverages).toHaveLength(2);
    const fullUrlOf = (r: unknown) => bundle.entry!.find((e) => e.resource === r)?.fullUrl;
    const byUrl = (url?: string) => bundle.entry!.find((e) => e.fullUrl === url)?.resource;
    const patient = resources<Patient>(bundle, 'Patient')[0]!;
    const [amo, amc] = coverages as [Coverage, Coverage];
    expect(amo).toMatchObject({
      status: 'active',
      identifier: [{ value: 'AMO' }],
      period: { start: '2024-01-01', end: '2024-12-31' },
    });
    expect(amo.beneficiary.reference).toBe(fullUrlOf(patient));
    expect(byUrl(amo.payor[0]!.reference)).toMatchObject({
      resourceType: 'Organization',
      name: 'CPAM DE TEST',
      address: [{ city: 'PARIS', postalCode: '75001' }],
    });
    const mother = byUrl(amo.subscriber?.reference) as RelatedPerson;
    expect(mother).toMatchObject({
      resourceType: 'RelatedPerson',
      name: [{ family: 'TESTMÈRE', given: ['JULIE'] }],
      birthDate: '1985-02-02',
    });
    expect(mother.patient.reference).toBe(fullUrlOf(patient));
    // SEL: the patient is the subscriber — never the mother named by the other IN1.
    expect(amc.subscriber?.reference).toBe(fullUrlOf(patient));
    expect(byUrl(amc.payor[0]!.reference)).toMatchObject({ name: 'MUTUELLE TEST' });
    expect(
      resources(bundle, 'RelatedPerson').filter((r) => (r as RelatedPerson).name?.[0]?.family === 'TESTMÈRE'),
    ).toHaveLength(1);
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });

  it('a fund known by its code only (IN1-3) is the payor, with that code as its identifier', () => {
    const { bundle } = map([...ADT.slice(0, 4), 'IN1|1|AMO|011751234^^^AMO&1.2.250.1.213.1.4.1&ISO']);
    const [coverage] = resources<Coverage>(bundle, 'Coverage');
    const payor = bundle.entry!.find((e) => e.fullUrl === coverage!.payor[0]!.reference)?.resource;
    expect(payor).toMatchObject({
      resourceType: 'Organization',
      identifier: [{ value: '011751234', system: 'urn:oid:1.2.250.1.213.1.4.1' }],
    });
    expect(() => validateForWrite(payor)).not.toThrow();
  });
});

describe('PV1-53/-54 → EpisodeOfCare (IG PV1[Encounter], episodeOfCare rows)', () => {
  const ADT = 'MSH|^~\\&|A|B|C|D|20240305100000+0100||ADT^A01^ADT_A01|C1|P|2.5';
  const PV1 = 'PV1|1|I|||||||||||||||||NDA1^^^CHU&1.2.250.1.999.1.2&ISO^VN';
  it('PV1-54 → identifier, PV1-53 → the resource-instance-description extension; the stay points to it; R4-valid', () => {
    const { bundle } = map([
      ADT,
      'EVN|A01|20240305100000',
      PID,
      `${PV1}||||||||||||||||||||||||||||||||||Suivi diabète|EP42^^^CHU&1.2.250.1.999.1.3&ISO`,
    ]);
    const [episode, ...others] = resources<EpisodeOfCare>(bundle, 'EpisodeOfCare');
    expect(others).toEqual([]);
    expect(episode).toMatchObject({
      status: 'active',
      identifier: [{ value: 'EP42', system: 'urn:oid:1.2.250.1.999.1.3' }],
      extension: [
        {
          url: 'http://hl7.org/fhir/StructureDefinition/resource-instance-description',
          valueString: 'Suivi diabète',
        },
      ],
    });
    const fullUrlOf = (r: unknown) => bundle.entry!.find((e) => e.resource === r)?.fullUrl;
    expect(episode!.patient.reference).toBe(fullUrlOf(resources<Patient>(bundle, 'Patient')[0]));
    const stay = resources<Encounter>(bundle, 'Encounter')[0]!;
    expect(stay.episodeOfCare).toEqual([{ reference: fullUrlOf(episode) }]);
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });

  it('a discharged stay (PV1-45) gives a finished episode; no PV1-53/-54 gives none (IG: no row fires)', () => {
    const discharged = map([
      ADT.replace('A01^ADT_A01', 'A03^ADT_A03'),
      'EVN|A03|20240305100000',
      PID,
      `${PV1}|||||||||||||||||||||||||20240301080000|20240305090000||||||||Suivi`,
    ]);
    expect(resources<EpisodeOfCare>(discharged.bundle, 'EpisodeOfCare')).toMatchObject([{ status: 'finished' }]);
    const plain = map([ADT, 'EVN|A01|20240305100000', PID, PV1]);
    expect(resources<EpisodeOfCare>(plain.bundle, 'EpisodeOfCare')).toEqual([]);
    expect(resources<Encounter>(plain.bundle, 'Encounter')[0]!.episodeOfCare).toBeUndefined();
  });
});

describe('PRT after an OBX → Device (IG ORU_R01 OBSERVATION.PRT, PRT[Device], IF PRT-10 VALUED)', () => {
  it('PRT-10/-16 → udiCarrier, PRT-17…22 → dates, lot, serial, distinct id, type; Observation.device points to it; R4-valid', () => {
    const { bundle } = map([
      MSH,
      PID,
      OBR,
      'OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F|||20240305080000+0100',
      'PRT|1|AD||EQUIP^Equipment^HL70912||||||UDI-0001^FAB^1.2.3^ISO||||||DI-2|20230101|20260101|LOT7|SN42|DON1|ANALYSEUR^Analyseur^L',
      'OBX|2|NM|2951-2^Na^LN||140|mmol/L|||||F|||20240305080000+0100',
    ]);
    const devices = resources<Device>(bundle, 'Device');
    expect(devices).toHaveLength(1);
    expect(devices).toMatchObject([
      {
        resourceType: 'Device',
        udiCarrier: [{ deviceIdentifier: 'UDI-0001' }, { deviceIdentifier: 'DI-2' }],
        manufactureDate: '2023-01-01',
        expirationDate: '2026-01-01',
        lotNumber: 'LOT7',
        serialNumber: 'SN42',
        distinctIdentifier: 'DON1',
        type: { coding: [{ code: 'ANALYSEUR', display: 'Analyseur' }] },
      },
    ]);
    const [withPrt, withoutPrt] = resources<Observation>(bundle, 'Observation');
    expect(withPrt!.device?.reference).toBe(bundle.entry!.find((e) => e.resource === devices[0])?.fullUrl);
    expect(withoutPrt!.device).toBeUndefined();
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });

  it('a PRT without PRT-10 (a person taking part) makes no Device', () => {
    const { bundle } = map([
      MSH,
      PID,
      OBR,
      'OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F',
      'PRT|1|AD||RO^Responsible observer^HL70443|DUPONT^JEAN',
    ]);
    expect(resources<Device>(bundle, 'Device')).toEqual([]);
  });
});

describe('SPM-3 parent specimens and SPM-32 shipment id (IG SPM[Specimen])', () => {
  it('each SPM-3 repetition → a parent Specimen with its PGN/FGN identifiers; SPM-32 → identifier of type SHIP; R4-valid', () => {
    const { bundle } = map([
      MSH,
      PID,
      OBR,
      'OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F|||20240305080000+0100',
      `SPM|1|TUBE1&LAB^TUBE1F&LAB|MERE1&LAB^MERE1F&LAB~MERE2&LAB|||||||||||||||||||||||||||||COLIS9^TRANSPORTEUR`,
    ]);
    const specimens = resources<Specimen>(bundle, 'Specimen');
    const child = specimens.find((s) => s.identifier?.some((i) => i.value === 'TUBE1'))!;
    expect(child.identifier).toContainEqual({
      value: 'COLIS9',
      system: 'urn:keney:v2-namespace:TRANSPORTEUR',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'SHIP' }] },
    });
    const parents = child.parent!.map(
      (p) => bundle.entry!.find((e) => e.fullUrl === p.reference)?.resource as Specimen,
    );
    expect(parents.map((p) => p.identifier!.map((i) => `${i.type?.coding?.[0]?.code}:${i.value}`))).toEqual([
      ['PGN:MERE1', 'FGN:MERE1F'],
      ['PGN:MERE2'],
    ]);
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });
});

describe('NTE-5/-6 on an Observation note (IG NTE[Observation])', () => {
  it("each NTE's notes get that NTE's author (a Practitioner) and time; R4-valid", () => {
    const { bundle } = map([
      MSH,
      PID,
      OBR,
      'OBX|1|NM|2823-3^K^LN||4.1|mmol/L|||||F|||20240305080000+0100',
      'NTE|1|L|Hémolyse~Recontrôlé||810001^TESTMARTIN^LUC^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^^^^RPPS|20240305090000+0100',
      'NTE|2|L|Vu|||',
      'NTE|3|L|Validé||810002^TESTDURAND^ISA^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^^^^RPPS|20240305100000+0100',
    ]);
    const observation = resources<Observation>(bundle, 'Observation')[0]!;
    const author = (ref?: string) =>
      (bundle.entry!.find((e) => e.fullUrl === ref)?.resource as { name?: { family?: string }[] } | undefined)
        ?.name?.[0]?.family;
    expect(observation.note!.map((n) => [n.text, author(n.authorReference?.reference), n.time])).toEqual([
      ['Hémolyse', 'TESTMARTIN', '2024-03-05T09:00:00+01:00'],
      ['Recontrôlé', 'TESTMARTIN', '2024-03-05T09:00:00+01:00'],
      ['Vu', undefined, undefined],
      ['Validé', 'TESTDURAND', '2024-03-05T10:00:00+01:00'],
    ]);
    for (const entry of bundle.entry ?? []) expect(() => validateForWrite(entry.resource)).not.toThrow();
  });
});
