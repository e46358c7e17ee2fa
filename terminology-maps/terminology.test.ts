// Terminology: ConceptMaps from files, UCUM through the NLM library, $translate and $lookup on the API (GET and
// POST, authenticated, Parameters / OperationOutcome), and the CIM-10 loader on a synthetic file (invented labels:
// the real CIM-10 cannot be shipped).
import { join } from 'node:path';
import type { OperationOutcome, Parameters } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestHub, type TestHub } from '../test/hub-harness.js';
import { loadCodeSystem, parseCodeSystemFile, LoadError } from './loader.js';
import { terminologyModule } from './module.js';
import { TerminologyService } from './terminology.js';

const SAMPLE = join(import.meta.dirname, '..', 'fixtures', 'terminology', 'cim10-sample.csv');
const terminology = new TerminologyService();
const part = (p: Parameters, name: string) => p.parameter?.find((x) => x.name === name);

describe('TerminologyService', () => {
  it('translates an HL7 table code with the IG ConceptMap, and says when a code has no equivalent', () => {
    expect(terminology.translateOne('AdministrativeSex', 'F')).toMatchObject({
      system: 'http://hl7.org/fhir/administrative-gender',
      code: 'female',
    });
    expect(terminology.translateOne('ObservationResultStatusCodesInterpretation', 'I')).toBeUndefined();
    expect(terminology.translate('ObservationResultStatusCodesInterpretation', 'I')[0]!.equivalence).toBe('unmatched');
    expect(terminology.translate('AdministrativeSex', 'ZZ')).toEqual([]);
  });
  it('turns unit strings into UCUM: valid UCUM as is, local spellings through the ConceptMap, the rest not', () => {
    expect(terminology.toUcum('mmol/L')?.code).toBe('mmol/L');
    expect(terminology.toUcum('µmol/l')?.code).toBe('umol/L');
    expect(terminology.toUcum('G/L')?.code).toBe('10*9/L');
    expect(terminology.toUcum('bananas')).toBeUndefined();
    expect(terminology.toUcum('enzyme units')).toBeUndefined();
  });
  it('resolves table 0396 names and keeps unknown ones as sent', () => {
    expect(terminology.codingSystemUri('LN')).toEqual({ uri: 'http://loinc.org', known: true });
    expect(terminology.codingSystemUri('HL70078').uri).toBe('http://terminology.hl7.org/CodeSystem/v2-0078');
    expect(terminology.codingSystemUri('CIM10').uri).toBe(terminology.systems.cim10);
    expect(terminology.codingSystemUri('MYLAB')).toEqual({ uri: 'MYLAB', known: false });
  });
  it('a ConceptMap added later is used at once: answers already given are forgotten, and never shared for changing', () => {
    const t = new TerminologyService();
    expect(t.translateOne('lab-local-to-loinc', 'ZZTEST')).toBeUndefined();
    expect(t.toUcum('zzunit')).toBeUndefined();
    t.addConceptMap({
      resourceType: 'ConceptMap',
      id: 'lab-local-to-loinc',
      status: 'active',
      group: [
        {
          source: 'urn:keney:lab',
          target: 'http://loinc.org',
          element: [{ code: 'ZZTEST', target: [{ code: '2823-3', equivalence: 'equivalent' }] }],
        },
      ],
    });
    expect(t.translateOne('lab-local-to-loinc', 'ZZTEST')).toMatchObject({
      system: 'http://loinc.org',
      code: '2823-3',
    });
    expect(t.mapTargets('lab-local-to-loinc').has('http://loinc.org')).toBe(true);
    expect(t.toUcum('mmol/l')).toEqual(t.toUcum('mmol/l'));
  });
  it('uses configured system URIs', () => {
    const custom = new TerminologyService({ systems: { cim10: 'urn:example:cim10' } });
    expect(custom.codingSystemUri('CIM10').uri).toBe('urn:example:cim10');
    expect(custom.translateOne('diagnosis-local-to-cim10', 'DIAB2')).toMatchObject({
      system: 'urn:example:cim10',
      code: 'E11',
    });
  });
});

describe('CIM-10 / CCAM loader', () => {
  it('finds the code column, skips titles, normalizes A000 to A00.0', () => {
    const concepts = parseCodeSystemFile('cim10', Buffer.from('code;libelle\nCHAPITRE I;x\nA000;un\nE11.9;deux\n'));
    expect(concepts).toEqual([
      { code: 'A00.0', display: 'un' },
      { code: 'E11.9', display: 'deux' },
    ]);
  });
  it('says what to do when no column looks like CCAM codes', () => {
    expect(() => parseCodeSystemFile('ccam', Buffer.from('a,b\n1,2\n'))).toThrow(LoadError);
    expect(() => parseCodeSystemFile('ccam', Buffer.from('a,b\n1,2\n'))).toThrow(/--code-column/);
  });
  it('reads Latin-1 files', () => {
    const concepts = parseCodeSystemFile('ccam', Buffer.from('AHQB002;Électromyographie (libellé fictif)\n', 'latin1'));
    expect(concepts[0]!.display).toBe('Électromyographie (libellé fictif)');
  });
});

describe('$translate and $lookup on the API', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await openTestHub('embedded', { modules: [terminologyModule({ terminology })] });
  });
  afterAll(() => t?.close());

  it('refuses an anonymous caller with an OperationOutcome', async () => {
    const res = await t.hub.app.inject({
      method: 'GET',
      url: '/fhir/ConceptMap/$translate?url=AdministrativeSex&code=F',
    });
    expect(res.statusCode).toBe(401);
    expect((res.json() as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  it('GET $translate answers Parameters with the match', async () => {
    const res = await t.hub.app.inject({
      method: 'GET',
      url: '/fhir/ConceptMap/$translate?url=https://keney.health/fhir/ConceptMap/AdministrativeSex&system=http://terminology.hl7.org/CodeSystem/v2-0001&code=F',
      headers: t.auth,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    const body = res.json() as Parameters;
    expect(part(body, 'result')?.valueBoolean).toBe(true);
    expect(part(body, 'match')?.part?.find((p) => p.name === 'concept')?.valueCoding).toMatchObject({ code: 'female' });
  });

  it('POST $translate with a Parameters body, and an unknown code gives result false (kept and flagged)', async () => {
    const res = await t.hub.app.inject({
      method: 'POST',
      url: '/fhir/ConceptMap/$translate',
      headers: { ...t.auth, 'content-type': 'application/fhir+json' },
      payload: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'url', valueUri: 'lab-local-to-loinc' },
          { name: 'coding', valueCoding: { code: 'NOPE' } },
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    expect(part(res.json() as Parameters, 'result')?.valueBoolean).toBe(false);
  });

  it('$translate with a bad body or an unknown map: OperationOutcome with what to do', async () => {
    const bad = await t.hub.app.inject({
      method: 'POST',
      url: '/fhir/ConceptMap/$translate',
      headers: { ...t.auth, 'content-type': 'application/fhir+json' },
      payload: '{not json',
    });
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as OperationOutcome).issue[0]!.details?.text).toMatch(/not valid JSON/);
    const unknown = await t.hub.app.inject({
      method: 'GET',
      url: '/fhir/ConceptMap/$translate?url=nope&code=F',
      headers: t.auth,
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('$lookup: UCUM, an HL7 table, SNOMED CT refused (no descriptions ship), CIM-10 after loading a file', async () => {
    const ucum = await t.hub.app.inject({
      method: 'GET',
      url: '/fhir/CodeSystem/$lookup?system=http://unitsofmeasure.org&code=mmol/L',
      headers: t.auth,
    });
    expect(part(ucum.json() as Parameters, 'display')?.valueString).toMatch(/millimole/i);
    const sex = await t.hub.app.inject({
      method: 'GET',
      url: '/fhir/CodeSystem/$lookup?system=http://terminology.hl7.org/CodeSystem/v2-0001&code=F',
      headers: t.auth,
    });
    expect(part(sex.json() as Parameters, 'display')?.valueString).toBe('Female');
    const snomed = await t.hub.app.inject({
      method: 'GET',
      url: '/fhir/CodeSystem/$lookup?system=http://snomed.info/sct&code=22298006',
      headers: t.auth,
    });
    expect(snomed.statusCode).toBe(404);
    const before = await t.hub.app.inject({
      method: 'GET',
      url: `/fhir/CodeSystem/$lookup?system=${encodeURIComponent(terminology.systems.cim10)}&code=E11.9`,
      headers: t.auth,
    });
    expect(before.statusCode).toBe(404);
    expect((before.json() as OperationOutcome).issue[0]!.details?.text).toMatch(/load-cli/);
    expect(await loadCodeSystem(t.hub.context.sql, terminology.systems, 'cim10', SAMPLE, { version: 'test' })).toBe(4);
    const after = await t.hub.app.inject({
      method: 'POST',
      url: '/fhir/CodeSystem/$lookup',
      headers: { ...t.auth, 'content-type': 'application/fhir+json' },
      payload: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'system', valueUri: terminology.systems.cim10 },
          { name: 'code', valueCode: 'E11.9' },
        ],
      },
    });
    expect(after.statusCode).toBe(200);
    expect(part(after.json() as Parameters, 'display')?.valueString).toBe('Libelle d essai E11.9 (fictif)');
  });
});
