// The CDC ReportStream comparison fact by fact: which expected facts our Bundles miss, in how many pairs, with one
// pair to look at (cdc-reportstream.test.ts prints only the rate and the 15 biggest classes).
// npx tsx mappings/testing/cdc-missing-facts.ts [PREFIX] [N] [--pairs FACT] [--plain]
//   PREFIX: only facts starting with it (e.g. "Organization|", "resource:"); N: how many (60); --pairs: every pair
//   missing that exact fact; --plain: against the whole expected Bundles (default: the part R4 accepts, as the test's
//   third rate — see r4-refusals.ts).
import { parseArgs } from 'node:util';
import { createMapperRegistry } from '../index.js';
import { CDC_COMPARE, mapCdcPairs, readCdcPairRows } from './cdc-pairs.js';
import { withoutR4Refusals } from './r4-refusals.js';
import { compareBundles } from './semantic-facts.js';
const { values, positionals } = parseArgs({
  options: { pairs: { type: 'string' }, plain: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const [prefix = '', count = '60'] = positionals;

/**
 * Expected facts the IG maps otherwise or leaves unmapped (mappings/README.md, "Why 90 % is out of reach"): a pair
 * missing one of them cannot pass while the templates follow the IG.
 */
const IG_CHOICES: { fact: RegExp; why: string }[] = [
  { fact: /\|code:\|official$/, why: "XCN-10 / XPN-7 'B' → official: the IG's NameType map leaves B unmapped" },
  { fact: /^Location\|code:\|active$/, why: 'PL-5 as Location.status: the IG leaves PL-5 unmapped' },
  {
    fact: /^ServiceRequest\|code:\|(order|unknown)$/,
    why: "ORC-1 NW → active, OBR-11 G → reflex-order (the IG's maps)",
  },
  { fact: /^DiagnosticReport\|code:\|entered-in-error$/, why: 'no OBR-25 → unknown (ReportStream: entered-in-error)' },
  { fact: /cannot-be-obtained/, why: 'OBX-11 X → cancelled, no data-absent-reason in the IG row' },
  { fact: /^MessageHeader\|(text|code):/, why: 'MSH-3/MSH-5/MSH-25 names and endpoints as the IG rows give them' },
  {
    fact: /^Observation\|text:(-\+1\+\+\+3|First-Second|-|"|:|\/|\.|3)$/,
    why: 'SN/VR → Quantity/Range/Ratio (IG), not raw text',
  },
  {
    fact: /^Organization\|system:http:\/\/terminology\.hl7\.org\/CodeSystem\/v2-0301$/,
    why: 'no HD-3 → no v2-0301 coding',
  },
  { fact: /^Practitioner\|text:Lennon$/, why: "the PATIENT group's NTE author: unmapped in the IG's ORU_R01 map" },
  { fact: /^ServiceRequest\|identifier:ORC Alt$/, why: 'ORC-33 only IF OBR-53 NOT VALUED' },
];
let blockedByIg = 0;
const mapper = createMapperRegistry({ timeZone: 'UTC' }).get('hl7v2/default')!;
const rows = readCdcPairRows();
const missing = new Map<string, string[]>();
const soleClass = new Map<string, number>();
let passed = 0;
for (const { input, expected, actual } of mapCdcPairs(mapper, rows)) {
  const c = compareBundles(values.plain ? expected : withoutR4Refusals(expected).bundle, actual, CDC_COMPARE);
  if (c.pass) passed++;
  const facts = [...c.missingTypes.map((t) => `resource:${t}`), ...c.missingFacts];
  if (facts.some((f) => IG_CHOICES.some((choice) => choice.fact.test(f)))) blockedByIg++;
  const classes = new Set(facts.map((f) => f.slice(0, f.indexOf(':'))));
  if (classes.size === 1) soleClass.set([...classes][0]!, (soleClass.get([...classes][0]!) ?? 0) + 1);
  for (const f of facts) missing.set(f, [...(missing.get(f) ?? []), input]);
}
const out: string[] = [
  `${passed}/${rows.length} pairs pass (strict${values.plain ? ', whole expected Bundles' : ', against what R4 accepts of them'})`,
  `${blockedByIg} failing pairs miss a fact the IG maps otherwise or leaves unmapped: at most ${rows.length - blockedByIg}/${rows.length} = ${((100 * (rows.length - blockedByIg)) / rows.length).toFixed(1)} % can pass while the templates follow the IG`,
  ...IG_CHOICES.map((c) => `    ${c.why}`),
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
