// Byte-level safety net for the interpreter: every shipped input (the mapping fixtures, the quality fixtures, the
// PAM-France stay, the bench messages and the 268 CDC ReportStream inputs) mapped, and the sha-256 of each result
// (`JSON.stringify({ bundle, issues })`, key order included) compared with fixtures/mappings/output-digests.json.
// A change that should not change any output (a faster interpreter) must keep every digest; a deliberate template
// change re-records them: `npx tsx mappings/testing/record-output-digests.ts` (and `--dump DIR` writes each output
// as JSON so that a diff shows what moved).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHl7Batch, parseHl7Message, type Hl7Message } from '../../adapters/hl7v2/index.js';
import { benchContext, workloads } from '../../bench/mapping/messages.js';
import { createMapperRegistry, type KeneyMapperRegistry, type MappingContext } from '../index.js';
import { fixtureContext } from './fixture-context.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const DIGESTS_FILE = join(ROOT, 'fixtures', 'mappings', 'output-digests.json');
const CDC_DIR = join(ROOT, '..', 'shared', 'corpus', 'hl7v2', 'cdc-prime-reportstream');

export interface MappedInput {
  name: string;
  /** `JSON.stringify({ bundle, issues })` of the mapping result. */
  output: string;
}

interface Input {
  name: string;
  message: () => Hl7Message;
  context: MappingContext;
  zone: 'default' | 'utc';
}

function inputs(): Input[] {
  const out: Input[] = [];
  const folder = (dir: string, context: (file: string) => MappingContext) => {
    for (const file of readdirSync(join(ROOT, dir))
      .filter((f) => f.endsWith('.hl7'))
      .sort()) {
      out.push({
        name: `${dir}/${file}`,
        message: () => parseHl7Message(readFileSync(join(ROOT, dir, file))),
        context: context(file),
        zone: 'default',
      });
    }
  };
  folder('fixtures/mappings', fixtureContext);
  folder('fixtures/mappings/quality', fixtureContext);
  folder('fixtures/hl7v2-fr', (file) => ({
    channelId: 'adt-in',
    messageId: `msg-${file}`,
    rawSha256: '0'.repeat(64),
    receivedAt: '2024-03-05T09:00:00Z',
  }));
  for (const w of workloads)
    out.push({
      name: `bench/mapping: ${w.name}`,
      message: () => parseHl7Message(w.bytes),
      context: benchContext,
      zone: 'default',
    });
  if (existsSync(join(CDC_DIR, 'PAIRS.tsv'))) {
    const rows = readFileSync(join(CDC_DIR, 'PAIRS.tsv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t')[0]!);
    for (const input of rows) {
      out.push({
        name: `cdc/${input}`,
        message: () => parseHl7Batch(readFileSync(join(CDC_DIR, input))).messages[0]!,
        context: { channelId: 'cdc', messageId: input, rawSha256: '0', receivedAt: '2024-01-01T00:00:00Z' },
        zone: 'utc',
      });
    }
  }
  return out;
}

/** Maps every input with `hl7v2/default` (CDC inputs with timeZone UTC, like the CDC comparison). */
export function mapAllInputs(registries?: { default: KeneyMapperRegistry; utc: KeneyMapperRegistry }): MappedInput[] {
  const r = registries ?? { default: createMapperRegistry(), utc: createMapperRegistry({ timeZone: 'UTC' }) };
  return inputs().map((input) => {
    const result = r[input.zone].get('hl7v2/default')!.map(input.message(), input.context) as {
      bundle: unknown;
      issues: unknown;
    };
    return { name: input.name, output: JSON.stringify({ bundle: result.bundle, issues: result.issues }) };
  });
}

export function digestOf(output: string): string {
  return createHash('sha256').update(output).digest('hex');
}

export function readRecordedDigests(): Record<string, string> {
  return existsSync(DIGESTS_FILE) ? (JSON.parse(readFileSync(DIGESTS_FILE, 'utf8')) as Record<string, string>) : {};
}
