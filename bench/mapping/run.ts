// bench/mapping — messages/s of mapping alone (HL7 v2 → FHIR transaction Bundle with our templates), as a ratio to
// parsing alone on the same messages, run side by side in one process. See README.md for the method.
// npx tsx bench/mapping/run.ts [--rounds 5] [--ms 400]
import { parseArgs } from 'node:util';
import { parseHl7Message } from '../../adapters/hl7v2/index.js';
import { createMapperRegistry } from '../../mappings/index.js';
import { benchContext as context, workloads } from './messages.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, ms: { type: 'string', default: '400' } },
});
const rounds = Number(values.rounds);
const sliceMs = Number(values.ms);
const registry = createMapperRegistry();
const mapper = registry.get('hl7v2/default')!;

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
