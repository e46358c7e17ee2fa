// The CDC ReportStream pairs (../shared/corpus/hl7v2/cdc-prime-reportstream/PAIRS.tsv, Apache-2.0): each input
// mapped the way the comparison reads it, beside ReportStream's expected Bundle. Shared by the acceptance test
// (cdc-reportstream.test.ts) and the fact-by-fact tool (cdc-missing-facts.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { parseHl7Batch } from '../../adapters/hl7v2/index.js';
import type { Mapper } from '../mapper.js';
import type { FactOptions } from './semantic-facts.js';

export const CDC_DIR = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'shared',
  'corpus',
  'hl7v2',
  'cdc-prime-reportstream',
);

/** ReportStream's private extensions (its raw v2 copies for the FHIR → HL7 round trip) are not compared. */
export const CDC_COMPARE: FactOptions = { ignoreExtensionPrefixes: ['https://reportstream.cdc.gov/'] };

/** `[input, expected]` paths of PAIRS.tsv, relative to CDC_DIR. */
export function readCdcPairRows(): [string, string][] {
  return readFileSync(join(CDC_DIR, 'PAIRS.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t').slice(0, 2) as [string, string]);
}

/**
 * Each pair's input mapped by `mapper` (give it a registry made with `timeZone: 'UTC'`: ReportStream reads a time
 * without offset as UTC), with the expected Bundle.
 */
export function* mapCdcPairs(
  mapper: Mapper,
  rows = readCdcPairRows(),
): Generator<{ input: string; expected: Bundle; actual: Bundle }> {
  for (const [input, expected] of rows) {
    // One input (smoketest/valid_mars.hl7) holds two messages without a batch envelope: ReportStream maps the first.
    const message = parseHl7Batch(readFileSync(join(CDC_DIR, input))).messages[0]!;
    const { bundle } = mapper.map(message, {
      channelId: 'cdc',
      messageId: input,
      rawSha256: '0',
      receivedAt: '2024-01-01T00:00:00Z',
    }) as { bundle: Bundle };
    yield { input, expected: JSON.parse(readFileSync(join(CDC_DIR, expected), 'utf8')) as Bundle, actual: bundle };
  }
}
