import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPart10 } from '../../../adapters/dicom/part10.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import { syntheticInstance } from '../../../adapters/dicom/test-support.js';
import { EngineError } from '../../../engine/errors.js';
import { loadDicomChannels, parseDicomChannel, refuseTakenIds } from './config.js';
import { applyDicomFilters } from './filters.js';

const parse = (text: string, env: Record<string, string> = {}) =>
  parseDicomChannel(text, 'channels/dicom/ct.channel.yaml', env);

function problems(
  text: string,
  env: Record<string, string> = {},
): { line: number; path: string; message: string; fix: string }[] {
  try {
    parse(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(EngineError);
    return [...(error as EngineError).issues];
  }
  throw new Error('the file was accepted');
}

describe('DICOM channel files', () => {
  it('loads a channel with filters, a store and two forwards, with defaults and ${VAR}', () => {
    const { config } = parse(
      `name: CT to the PACS
source: { type: dicom }
filters:
  - field: Modality
    in: [CT, MR]
  - anyOf:
      - { field: CallingAETitle, matches: "^CT_" }
      - { field: StationName, equals: SCANNER2 }
destinations:
  - type: store
  - type: dicom
    name: regional
    aeTitle: PACS_REG
    host: \${PACS_HOST}
    port: \${PACS_PORT:-104}
  - type: dicomweb
    name: cloud
    url: https://pacs.example/dicom-web/studies
    token: \${CLOUD_TOKEN}
    retry: { maxAttempts: 3 }
`,
      { PACS_HOST: '10.0.0.5', CLOUD_TOKEN: 'secret' },
    );
    expect(config).toMatchObject({ id: 'ct', name: 'CT to the PACS', enabled: true });
    expect(config.destinations).toEqual([
      { type: 'store', name: 'store' },
      {
        type: 'dicom',
        name: 'regional',
        aeTitle: 'PACS_REG',
        host: '10.0.0.5',
        port: 104,
        retry: { maxAttempts: 10, initialDelayMs: 1000, maxDelayMs: 300_000 },
      },
      {
        type: 'dicomweb',
        name: 'cloud',
        url: 'https://pacs.example/dicom-web/studies',
        token: 'secret',
        retry: { maxAttempts: 3, initialDelayMs: 1000, maxDelayMs: 300_000 },
      },
    ]);
  });

  it('names the line and the fix: a misspelt setting, a missing one, an unknown field, a bad regex, a missing variable', () => {
    const found = problems(`source: { type: dicom }
filters:
  - field: Modalty
    equals: CT
  - field: CallingAETitle
    matches: "(["
destinations:
  - type: dicom
    name: pacs
    aeTitel: PACS
    host: \${PACS_HOST}
    port: 104
`);
    const by = (path: string) => found.find((p) => p.path === path);
    expect(by('destinations[0].aeTitel')).toMatchObject({
      line: 10,
      fix: expect.stringMatching(/Did you mean "aeTitle"/),
    });
    expect(by('destinations[0]')?.message).toMatch(/needs "aeTitle"/);
    expect(by('filters[0].field')).toMatchObject({
      line: 3,
      message: expect.stringMatching(/did you mean "Modality"/),
    });
    expect(by('filters[1].matches')?.message).toMatch(/not a valid regular expression/);
    expect(found.some((p) => p.line === 11 && /PACS_HOST is not set/.test(p.message))).toBe(true);
  });

  it('refuses YAML that does not parse, a wrong destination type, and two destinations with one name', () => {
    expect(problems('destinations: [\n  - type: store\n')[0]!.message).toMatch(/YAML syntax/);
    const wrongType = problems('destinations:\n  - type: ftp\n    name: x\n');
    expect(
      wrongType.some(
        (p) => p.path === 'destinations[0].type' && /must be "store" or "dicom" or "dicomweb"|must be/.test(p.message),
      ),
    ).toBe(true);
    const twice = problems(`destinations:
  - { type: dicomweb, name: same, url: "https://a/studies" }
  - { type: dicomweb, name: same, url: "https://b/studies" }
`);
    expect(twice[0]).toMatchObject({
      path: 'destinations[1].name',
      message: expect.stringMatching(/already destinations\[0\]/),
    });
  });

  it('loads a directory: a bad file is reported and the others still load', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keney-dicom-channels-'));
    try {
      await writeFile(join(dir, 'good.channel.yaml'), 'destinations: [{ type: store }]\n');
      await writeFile(join(dir, 'bad.channel.yaml'), 'destinations: []\n');
      await writeFile(join(dir, 'notes.txt'), 'ignored');
      const { loaded, failed } = await loadDicomChannels(dir, {});
      expect(loaded.map((l) => l.config.id)).toEqual(['good']);
      expect(failed.map((f) => f.file)).toEqual([join(dir, 'bad.channel.yaml')]);
      expect(await loadDicomChannels(join(dir, 'absent'), {})).toEqual({ loaded: [], failed: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('DICOM channel ids', () => {
  it('refuses a DICOM channel whose id an HL7 v2 channel has (they would share messages and statistics)', () => {
    const ct = parseDicomChannel('destinations: [{ type: store }]\n', 'channels/dicom/ct.channel.yaml', {});
    const lab = parseDicomChannel('destinations: [{ type: store }]\n', 'channels/dicom/lab.channel.yaml', {});
    const { loaded, failed } = refuseTakenIds({ loaded: [ct, lab], failed: [] }, ['lab', 'default-inbound']);
    expect(loaded.map((l) => l.config.id)).toEqual(['ct']);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.file).toBe('channels/dicom/lab.channel.yaml');
    expect(failed[0]!.error.issues[0]).toMatchObject({
      path: 'id',
      message: expect.stringMatching(/already an HL7 v2 channel's/),
    });
  });
});

describe('DICOM channel filters', () => {
  let input: Parameters<typeof applyDicomFilters>[0];
  beforeAll(() => {
    const file = syntheticInstance({
      extra: [
        { tag: Tag.Modality, value: 'CT' },
        { tag: Tag.ImageType, value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
      ],
    }).file;
    const part10 = readPart10(file);
    input = {
      dataSet: part10.dataSet,
      transferSyntaxUid: part10.transferSyntax.uid,
      source: { protocol: 'dimse', callingAeTitle: 'CT_SALLE_1', remoteAddress: '10.1.2.3' },
    };
  });
  afterAll(() => undefined);

  it('tests attributes by keyword or tag, and how the instance came', () => {
    expect(
      applyDicomFilters(input, [
        { field: 'Modality', in: ['CT', 'MR'] },
        { field: '00080060', equals: 'CT' },
        { field: 'CallingAETitle', matches: '^CT_' },
      ]),
    ).toEqual({ pass: true });
    expect(applyDicomFilters(input, [{ field: 'ImageType', matches: '\\\\AXIAL$' }])).toEqual({ pass: true });
    expect(applyDicomFilters(input, [{ field: 'Protocol', equals: 'stow-rs' }])).toEqual({
      pass: false,
      reason: 'Protocol is "dimse"; it must equal "stow-rs"',
    });
    expect(applyDicomFilters(input, [{ field: 'StationName', exists: true }]).reason).toBe(
      'StationName is absent; it must be present',
    );
    expect(
      applyDicomFilters(input, [
        {
          anyOf: [
            { field: 'Modality', equals: 'MR' },
            { field: 'CallingAETitle', equals: 'CT_SALLE_1' },
          ],
        },
      ]),
    ).toEqual({ pass: true });
    expect(applyDicomFilters(input, [{ field: 'Modality', equals: 'CT', not: true }]).pass).toBe(false);
  });
});
