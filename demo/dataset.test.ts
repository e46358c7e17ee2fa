// The demo data set is what a user meets first: it must be synthetic (test INS only, valid keys), its messages
// must go through the shipped channels exactly as announced (all accepted but the one that fails on purpose),
// its DICOM study must be valid Part 10, its PDF a valid PDF, and its channels must load.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseHl7Message } from '../adapters/hl7v2/index.js';
import { extractMetadata } from '../adapters/dicom/metadata.js';
import { readPart10 } from '../adapters/dicom/part10.js';
import { parseChannel } from '../engine/channel-loader.js';
import type { ChannelConfig } from '../engine/channel-config.js';
import { testChannel } from '../engine/channel-test.js';
import { loadMapperRegistry, type MapperRegistry } from '../engine/mapper-registry.js';
import { insKey, parseIns } from '../ui/src/lib/ins.js';
import { DEMO, DEMO_CHANNELS, demoDataset, insOf, PATIENTS } from './dataset.js';
import { pdfDocument } from './pdf.js';
import { stowBody } from './load.js';

const NOW = new Date('2026-03-15T09:00:00Z');
const dataset = demoDataset(NOW);
const REPO = join(import.meta.dirname, '..');

describe('demo data set', () => {
  it('uses test INS only, each with a valid key, and never a real NIR system', () => {
    for (const patient of Object.values(PATIENTS)) {
      const ins = insOf(patient);
      if (!ins) continue;
      expect(parseIns(ins), patient.key).toMatchObject({ keyValid: true });
      expect(Number(ins.slice(13))).toBe(insKey(ins.slice(0, 13)));
    }
    const everything = [...dataset.messages.map((m) => m.hl7), JSON.stringify(dataset.dimBundle)].join('\n');
    expect(everything).not.toContain('1.2.250.1.213.1.4.8&');
    expect(everything).not.toContain('1.2.250.1.213.1.4.8|');
    expect(everything).toContain(`ASIP-SANTE-INS-NIR&${DEMO.testInsOid}&ISO^INS`);
    // A Corsican department among them, so the 2A/2B key rule is exercised.
    expect(Object.values(PATIENTS).some((p) => 'insBody' in p && /^.{5}2[AB]/.test(p.insBody))).toBe(true);
  });

  it('is the same for the same day, with unique control ids, and parses as HL7 v2', () => {
    expect(demoDataset(NOW).messages.map((m) => m.hl7)).toEqual(dataset.messages.map((m) => m.hl7));
    const ids = dataset.messages.map((m) => m.controlId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const message of dataset.messages) {
      const parsed = parseHl7Message(message.hl7);
      expect(parsed.segments()[0]!.name).toBe('MSH');
      expect(message.hl7).not.toMatch(/\n/);
    }
  });

  it('puts the stay in the past and the appointment in the future, relative to now', () => {
    const admission = dataset.messages.find((m) => m.label.includes('admission en cardiologie'))!;
    const admittedAt = /EVN\|\|(\d{8})/.exec(admission.hl7)![1]!;
    expect(admittedAt).toBe('20260311');
    const appointment = dataset.messages.find((m) => m.controlId.startsWith('SCH'))!;
    expect(/AIS\|1\|\|[^|]*\|(\d{8})/.exec(appointment.hl7)![1]).toBe('20260405');
  });

  describe('through the shipped channels (decode, filter, map, quality — nothing stored)', () => {
    let mappers: MapperRegistry;
    const channels = new Map<string, ChannelConfig>();

    beforeAll(async () => {
      mappers = await loadMapperRegistry();
      const env = { KENEY_MLLP_PORT: '2575' };
      for (const [dir, names] of [
        [join(REPO, 'channels'), ['default-inbound.channel.yaml']],
        [
          join(REPO, 'demo', 'channels'),
          (await readdir(join(REPO, 'demo', 'channels'))).filter((f) => f.endsWith('.channel.yaml')),
        ],
      ] as const) {
        for (const name of names) {
          const { config } = parseChannel(await readFile(join(dir, name), 'utf8'), name, {
            env,
            mappings: { has: (id) => mappers.get(id) !== undefined, ids: () => mappers.ids() },
          });
          channels.set(config.id, config);
        }
      }
    }, 60_000);

    it('loads the demo channels', () => {
      expect([...channels.keys()].sort()).toEqual(Object.values(DEMO_CHANNELS).sort());
      const forward = channels.get(DEMO_CHANNELS['lab-to-ris'])!;
      expect(forward.destinations.map((d) => d.type)).toEqual(['store', 'mllp']);
    });

    it('accepts every message but the one that fails on purpose, which gets AE with the quality rule', async () => {
      for (const message of dataset.messages) {
        const result = await testChannel(
          channels.get(DEMO_CHANNELS[message.channel])!,
          Buffer.from(message.hl7, 'utf8'),
          mappers,
        );
        expect(`${message.controlId} ${result.ackCode} ${result.filtered ?? ''}`, message.label).toBe(
          `${message.controlId} ${message.expect} `,
        );
        if (message.expect === 'AE') expect(result.issues.some((i) => i.code === 'QUALITY_QUANTITY_UCUM')).toBe(true);
        else expect(result.bundle?.entry?.length ?? 0).toBeGreaterThan(0);
      }
    }, 60_000);
  });

  it('has a CT study of valid Part-10 files for Hélène’s IPP and INS, in one study and two series', () => {
    const { study } = dataset;
    expect(study.instances).toHaveLength(13);
    const series = new Set<string>();
    for (const file of study.instances) {
      const meta = extractMetadata(readPart10(file).dataSet);
      expect(meta.study.studyInstanceUid).toBe(study.studyInstanceUid);
      expect(meta.patient.id?.value).toBe(PATIENTS.helene.ipp);
      expect(meta.patient.otherIds.map((o) => o.value)).toContain(insOf(PATIENTS.helene));
      series.add(meta.series.seriesInstanceUid);
    }
    expect(series.size).toBe(2);
    const { body, contentType } = stowBody(study.instances.slice(0, 2));
    const boundary = /boundary=(\S+)/.exec(contentType)![1]!;
    expect(body.toString('latin1').split(`--${boundary}`).length).toBe(4);
  });

  it('writes PDFs whose cross-reference table points at their objects', () => {
    const pdf = pdfDocument('Titre é', ['ligne (1)', 'ligne \\ 2']);
    const text = pdf.toString('latin1');
    expect(text.startsWith('%PDF-1.4')).toBe(true);
    const startxref = Number(/startxref\n(\d+)/.exec(text)![1]);
    expect(text.slice(startxref, startxref + 4)).toBe('xref');
    const offsets = [...text.slice(startxref).matchAll(/^(\d{10}) 00000 n $/gm)].map((m) => Number(m[1]));
    expect(offsets).toHaveLength(5);
    offsets.forEach((offset, i) => expect(text.slice(offset, offset + 8)).toBe(`${i + 1} 0 obj\n`));
    expect(text).toContain("(ligne \\(1\\)) '");
  });
});
