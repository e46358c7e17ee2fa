// bench/mapping — messages/s of mapping alone (HL7 v2 → FHIR transaction Bundle with our templates), as a ratio to
// parsing alone on the same messages, run side by side in one process. See README.md for the method.
// npx tsx bench/mapping/run.ts [--rounds 5] [--ms 400]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseHl7Message } from '../../adapters/hl7v2/index.js';
import { createMapperRegistry } from '../../mappings/index.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, ms: { type: 'string', default: '400' } },
});
const rounds = Number(values.rounds);
const sliceMs = Number(values.ms);
const ROOT = join(import.meta.dirname, '..', '..');

const MSH =
  'MSH|^~\\&|LAB|CHU^1.2.250.1.999.1^ISO|KENEY|HUB|20240305100000+0100||ORU^R01^ORU_R01|C1|P|2.5|||AL|NE|FRA|UNICODE UTF-8';
const PID =
  'PID|1||IPP100042^^^CHU&1.2.250.1.999.1.1&ISO^PI~280017512345610^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||TESTMARTIN^MARIE^^^^^L||19800115|F';
const PV1 = 'PV1|1|I|4001^101^1|||||||||||||||||NDA7001^^^CHU&1.2.250.1.999.1.2&ISO^AN';
const OBR =
  'OBR|1|CMD1^SIH^1.2.250.1.999.1.5^ISO|RES1^LAB^1.2.250.1.999.1.6^ISO|24326-1^Ionogramme^LN|||20240305073000+0100|||||||||||||||20240305110000+0100|||F';
const codes = [
  '2823-3^Potassium^LN',
  '2951-2^Sodium^LN',
  '2160-0^Creatinine^LN',
  '718-7^Hemoglobin^LN',
  'K^Potassium^L',
  'GLY^Glucose^L',
];
function oru(count: number): Buffer {
  const obx = Array.from(
    { length: count },
    (_, i) =>
      `OBX|${i + 1}|NM|${codes[i % codes.length]}|${i}|${(4 + (i % 10) / 10).toFixed(1)}|mmol/l^mmol/l^L|3.5-5.1|N|||F|||20240305073000+0100`,
  );
  return Buffer.from([MSH, PID, PV1, OBR, ...obx].join('\r'));
}

const workloads: { name: string; bytes: Buffer }[] = [
  {
    name: 'ADT^A01 (PAM-FR, fixtures/hl7v2-fr/01)',
    bytes: readFileSync(join(ROOT, 'fixtures/hl7v2-fr/01-a01-admission.hl7')),
  },
  { name: 'ORU^R01, 20 OBX', bytes: oru(20) },
  { name: 'ORU^R01, 200 OBX', bytes: oru(200) },
];

const registry = createMapperRegistry();
const mapper = registry.get('hl7v2/default')!;
const context = { channelId: 'bench', messageId: 'bench', rawSha256: '0', receivedAt: '2024-03-05T09:00:00Z' };

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs fn for about sliceMs of CPU time; returns iterations per CPU second. */
function measure(fn: () => void): number {
  let n = 0;
  const start = cpuMs();
  let now = start;
  while (now - start < sliceMs) {
    for (let i = 0; i < 5; i++) fn();
    n += 5;
    now = cpuMs();
  }
  return (n * 1000) / (now - start);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(
  `Node ${process.version}, ${rounds} rounds of ${sliceMs} ms CPU per side; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
);
const rows: string[] = [];
for (const w of workloads) {
  const parse = () => {
    parseHl7Message(w.bytes);
  };
  // Parsing that also reads every field (all repetitions, components and subcomponents unescaped): what a
  // mapping has to read at least, since our parser splits fields only when they are read.
  const parseAndRead = () => {
    const message = parseHl7Message(w.bytes);
    for (const segment of message.segments()) {
      for (const field of segment.fields())
        for (const rep of field.repetitions()) for (const c of rep.components()) c.subcomponents();
    }
  };
  const parseAndMap = () => {
    mapper.map(parseHl7Message(w.bytes), context);
  };
  const result = mapper.map(parseHl7Message(w.bytes), context) as {
    bundle: { entry?: unknown[] };
    issues: { severity: string }[];
  };
  for (let i = 0; i < 3; i++) {
    measure(parse);
    measure(parseAndRead);
    measure(parseAndMap);
  }
  const parseRates: number[] = [];
  const readRates: number[] = [];
  const bothRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
    for (const k of order) {
      if (k === 0) parseRates.push(measure(parse));
      else if (k === 1) readRates.push(measure(parseAndRead));
      else bothRates.push(measure(parseAndMap));
    }
  }
  const p = median(parseRates);
  const pr = median(readRates);
  const pm = median(bothRates);
  // Mapping alone: the CPU time of parse+map minus that of parse, per message.
  const mapAlone = 1 / (1 / pm - 1 / p);
  rows.push(
    `| ${w.name} | ${w.bytes.length.toLocaleString('en')} B | ${result.bundle.entry?.length ?? 0} | ${Math.round(p).toLocaleString('en')} | ${Math.round(pr).toLocaleString('en')} | ${Math.round(mapAlone).toLocaleString('en')} | ${(mapAlone / p).toFixed(4)} | ${(mapAlone / pr).toFixed(3)} |`,
  );
}
console.log(
  '| messages | size | Bundle entries | parse msg/s | parse + read all msg/s | map alone msg/s | map / parse | map / parse + read |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);
