// The CDC ReportStream comparison fact by fact: which expected facts our Bundles miss, in how many pairs, with one
// pair to look at (cdc-reportstream.test.ts prints only the rate and the 15 biggest classes).
// npx tsx mappings/testing/cdc-missing-facts.ts [PREFIX] [N] [--pairs FACT] [--plain]
//   PREFIX: only facts starting with it (e.g. "Organization|", "resource:"); N: how many (60); --pairs: every pair
//   missing that exact fact; --plain: against the whole expected Bundles (default: the part R4 accepts, as the test's
//   third rate — see r4-refusals.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Bundle } from '@medplum/fhirtypes';
import { parseHl7Batch } from '../../adapters/hl7v2/index.js';
import { createMapperRegistry } from '../index.js';
import { withoutR4Refusals } from './r4-refusals.js';
import { compareBundles } from './semantic-facts.js';

const DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus', 'hl7v2', 'cdc-prime-reportstream');
const { values, positionals } = parseArgs({
  options: { pairs: { type: 'string' }, plain: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const [prefix = '', count = '60'] = positionals;
const mapper = createMapperRegistry({ timeZone: 'UTC' }).get('hl7v2/default')!;
const rows = readFileSync(join(DIR, 'PAIRS.tsv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split('\t') as [string, string]);
const missing = new Map<string, string[]>();
const soleClass = new Map<string, number>();
let passed = 0;
for (const [input, expected] of rows) {
  const message = parseHl7Batch(readFileSync(join(DIR, input))).messages[0]!;
  const { bundle } = mapper.map(message, {
    channelId: 'cdc',
    messageId: input,
    rawSha256: '0',
    receivedAt: '2024-01-01T00:00:00Z',
  }) as { bundle: Bundle };
  const reference = JSON.parse(readFileSync(join(DIR, expected), 'utf8')) as Bundle;
  const c = compareBundles(values.plain ? reference : withoutR4Refusals(reference).bundle, bundle, {
    ignoreExtensionPrefixes: ['https://reportstream.cdc.gov/'],
  });
  if (c.pass) passed++;
  const facts = [...c.missingTypes.map((t) => `resource:${t}`), ...c.missingFacts];
  const classes = new Set(facts.map((f) => f.slice(0, f.indexOf(':'))));
  if (classes.size === 1) soleClass.set([...classes][0]!, (soleClass.get([...classes][0]!) ?? 0) + 1);
  for (const f of facts) missing.set(f, [...(missing.get(f) ?? []), input]);
}
const out: string[] = [
  `${passed}/${rows.length} pairs pass (strict${values.plain ? ', whole expected Bundles' : ', against what R4 accepts of them'})`,
  'pairs failing on one class only (fixing that class passes them):',
];
for (const [k, n] of [...soleClass].sort((a, b) => b[1] - a[1])) out.push(`  ${String(n).padStart(3)}  ${k}`);
out.push('missing facts (pairs, fact, one pair):');
for (const [fact, pairs] of [...missing]
  .filter(([f]) => f.startsWith(prefix))
  .sort((a, b) => b[1].length - a[1].length)
  .slice(0, Number(count))) {
  out.push(`  ${String(pairs.length).padStart(3)}  ${fact.slice(0, 140)}  ${pairs[0]}`);
}
if (values.pairs) out.push(...(missing.get(values.pairs) ?? []));
process.stdout.write(`${out.join('\n')}\n`);
