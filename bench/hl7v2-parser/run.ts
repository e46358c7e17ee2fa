// HL7v2 parser benchmark: our parser against the npm HL7v2 parsers that install on Node 20, on the same messages,
// in the same process, alternating, several rounds. Run: npx tsx bench/hl7v2-parser/run.ts [--rounds 5] [--ms 300]
//
// Two workloads per parser:
//   parse — parse each message;
//   read  — parse, then read MSH-9.1, MSH-10, PID-3.1, PID-5.1 and OBX-5 of every OBX (what a mapping touches).
// Our parser is lazy (it splits fields on first access), so `read` is the fair comparison; both are printed.
// Peers get the message as a string already decoded (they take strings); ours gets the bytes, as from MLLP —
// the decoding cost is charged to us only.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseHl7Batch, parseHl7Message } from '../../adapters/hl7v2/index.js';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const corpusRoot = path.resolve(here, '../../../shared/corpus/hl7v2');

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROUNDS = arg('rounds', 5);
const SLICE_MS = arg('ms', 300);
const onlyIndex = args.indexOf('--only');
/** `--only hl7parser` benchmarks the peers whose name contains that text. */
const ONLY = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;

interface Sample {
  name: string;
  bytes: Buffer;
  /** For the peers: decoded, segments joined with \r as the standard says (some peers need it). */
  text: string;
}

// ---- the messages ----

function walk(dir: string, out: string[]): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (
        e.name === 'xml-encoding' ||
        e.name === 'er7-xml-pairs' ||
        e.name === 'assertion-format' ||
        e.name === 'mapping-spec-csv' ||
        e.name === 'fuzz-crashers'
      )
        continue;
      walk(p, out);
    } else if (!/\.(tsv|csv|json|fhir|xml|md)$/i.test(e.name)) out.push(p);
  }
}

function syntheticOru(obxCount: number): Buffer {
  const segs = [
    'MSH|^~\\&|LAB|CHU-TEST|HUB|CHU-TEST|20240315143000+0100||ORU^R01^ORU_R01|BENCH' +
      obxCount +
      '|P|2.5|||AL|NE||UNICODE UTF-8',
    'PID|1||123456789012345^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS~IPP001^^^CHU-TEST&1.2.250.1.999&ISO^PI||BÉRÉNICE^Hélène^^^Mme^^L||19800101|F',
    'PV1|1|I|CARDIO^101^1^CHU-TEST',
    'OBR|1|CMD001^LAB|RES001^LAB|24331-1^Lipid panel^LN|||20240315120000+0100',
  ];
  for (let i = 1; i <= obxCount; i++) {
    segs.push(
      `OBX|${i}|NM|${2000 + i}-${i % 10}^Analyte ${i}^LN||${(i * 1.37).toFixed(2)}|mmol/L^mmol/L^UCUM|0.5-5.0|N|||F|||20240315130000+0100`,
    );
  }
  return Buffer.from(segs.join('\r') + '\r', 'utf8');
}

function loadSamples(): Sample[] {
  const files: string[] = [];
  walk(corpusRoot, files);
  const samples: Sample[] = [];
  for (const file of files.sort()) {
    const bytes = fs.readFileSync(file);
    let batch;
    try {
      batch = parseHl7Batch(bytes);
    } catch {
      continue; // not round-trippable: rejected inputs are not benchmarked
    }
    for (const [k, m] of batch.messages.entries()) {
      const own = m.toBuffer();
      samples.push({
        name: `${path.relative(corpusRoot, file)}#${k + 1}`,
        bytes: Buffer.from(own),
        text: peerText(m.toString()),
      });
    }
  }
  for (const n of [20, 200]) {
    const bytes = syntheticOru(n);
    samples.push({ name: `synthetic ORU ${n} OBX`, bytes, text: peerText(bytes.toString('utf8')) });
  }
  return samples;
}

function peerText(text: string): string {
  return text.replace(/\r\n|\n/g, '\r').replace(/\r+$/, '');
}

// ---- the parsers ----

interface Parser {
  name: string;
  version: string;
  parse(s: Sample): unknown;
  /** Parse and read the fields a mapping reads; returns the parsed message then the values (nothing is optimised away). */
  read(s: Sample): unknown[];
}

function versionOf(pkg: string): string {
  // Walk up from the resolved entry point to the package's own package.json (exports maps may hide it).
  let dir = path.dirname(require.resolve(pkg));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg && json.version) return json.version;
    }
    const up = path.dirname(dir);
    if (up === dir) return '?';
    dir = up;
  }
}

const ours: Parser = {
  name: 'keney adapters/hl7v2',
  version: 'this repo',
  parse: (s) => parseHl7Message(s.bytes),
  read: (s) => {
    const m = parseHl7Message(s.bytes);
    return [m, m.get('MSH-9.1'), m.get('MSH-10'), m.get('PID-3.1'), m.get('PID-5.1'), ...m.getAll('OBX-5[1]')];
  },
};

async function loadPeers(): Promise<Parser[]> {
  const peers: Parser[] = [];
  const add = async (pkg: string, make: () => Promise<Omit<Parser, 'version'>> | Omit<Parser, 'version'>) => {
    try {
      peers.push({ ...(await make()), version: versionOf(pkg) });
    } catch (e) {
      console.error(`skipped ${pkg}: ${(e as Error).message}`);
    }
  };
  await add('@medplum/core', async () => {
    const { Hl7Message } = await import('@medplum/core');
    return {
      name: '@medplum/core Hl7Message',
      parse: (s) => Hl7Message.parse(s.text),
      read: (s) => {
        const m = Hl7Message.parse(s.text);
        return [
          m,
          m.getSegment('MSH')?.getField(9)?.getComponent(1),
          m.getSegment('MSH')?.getField(10)?.toString(),
          m.getSegment('PID')?.getField(3)?.getComponent(1),
          m.getSegment('PID')?.getField(5)?.getComponent(1),
          ...m.getAllSegments('OBX').map((o) => o.getField(5)?.getComponent(1)),
        ];
      },
    };
  });
  await add('simple-hl7', () => {
    // simple-hl7's getComponent() ignores repetitions (PID-3 often repeats): read the first leaf from its tree.
    type Node = { value?: unknown[] };
    const firstLeaf = (field: Node | undefined): unknown => {
      let v: unknown = field;
      while (v && typeof v === 'object') v = Array.isArray(v) ? v[0] : (v as Node).value;
      return v;
    };
    const hl7 = require('simple-hl7');
    const parser = new hl7.Parser();
    return {
      name: 'simple-hl7',
      parse: (s) => parser.parse(s.text),
      read: (s) => {
        const m = parser.parse(s.text);
        const pid = m.getSegment('PID');
        return [
          m,
          m.header.getComponent(7, 1),
          m.header.getField(8),
          firstLeaf(pid?.fields?.[2]),
          pid?.getComponent(5, 1),
          ...m.getSegments('OBX').map((o: { getComponent(f: number, c: number): unknown }) => o.getComponent(5, 1)),
        ];
      },
    };
  });
  await add('hl7-standard', () => {
    const HL7 = require('hl7-standard');
    return {
      name: 'hl7-standard',
      parse: (s) => {
        const h = new HL7(s.text);
        h.transform();
        return h;
      },
      read: (s) => {
        const h = new HL7(s.text);
        h.transform();
        return [
          h,
          h.get('MSH.9.1'),
          h.get('MSH.10'),
          h.get('PID.3.1'),
          h.get('PID.5.1'),
          ...h.getSegments('OBX').map((o: { get(p: string): unknown }) => o.get('OBX.5.1')),
        ];
      },
    };
  });
  await add('node-hl7-client', async () => {
    const { Message } = (await import(require.resolve('node-hl7-client'))) as {
      Message: new (o: { text: string }) => HL7NodeLike;
    };
    return {
      name: 'node-hl7-client Message',
      parse: (s) => new Message({ text: s.text }),
      read: (s) => {
        const m = new Message({ text: s.text });
        const out: unknown[] = [
          m,
          m.get('MSH.9.1').toString(),
          m.get('MSH.10').toString(),
          m.get('PID.3.1').toString(),
          m.get('PID.5.1').toString(),
        ];
        if (m.exists('OBX')) m.get('OBX').forEach((o) => out.push(o.get(5).get(0).toString()));
        return out;
      },
    };
  });
  await add('hl7parser', () => {
    const h = require('hl7parser');
    return {
      name: 'hl7parser',
      parse: (s) => h.create(s.text),
      read: (s) => {
        const m = h.create(s.text);
        const out: unknown[] = [
          m,
          m.get('MSH.9.1').toString(),
          m.get('MSH.10').toString(),
          m.get('PID.3.1').toString(),
          m.get('PID.5.1').toString(),
        ];
        m.get('OBX').forEach((o: HL7NodeLike) => out.push(o.get('OBX.5.1').toString()));
        return out;
      },
    };
  });
  await add('hl7v2', async () => {
    type Field = { component(n: number): { getValue(): unknown } };
    type Segment = { segmentType: string; field(n: number): Field };
    const { HL7Message } = (await import(require.resolve('hl7v2'))) as {
      HL7Message: {
        parse(input: string | Buffer): { getSegment(t: string): Segment | undefined; segments: Segment[] };
      };
    };
    const value = (seg: Segment | undefined, n: number) => seg?.field(n).component(1).getValue();
    return {
      name: 'hl7v2 HL7Message',
      parse: (s) => HL7Message.parse(s.text),
      read: (s) => {
        const m = HL7Message.parse(s.text);
        const msh = m.getSegment('MSH');
        const pid = m.getSegment('PID');
        return [
          m,
          value(msh, 9),
          value(msh, 10),
          value(pid, 3),
          value(pid, 5),
          ...m.segments.filter((x) => x.segmentType === 'OBX').map((o) => value(o, 5)),
        ];
      },
    };
  });
  await add('tiny-hl7', () => {
    const tiny = require('tiny-hl7') as { parse(text: string): Record<string, string>[] };
    const nameOf = (s: Record<string, string>) => Object.keys(s)[0]?.slice(0, 3);
    const value = (s: Record<string, string> | undefined, f: string) => s?.[`${f}.1`] ?? s?.[f];
    return {
      name: 'tiny-hl7 parse',
      parse: (s) => tiny.parse(s.text),
      read: (s) => {
        const segs = tiny.parse(s.text);
        const msh = segs.find((x) => nameOf(x) === 'MSH');
        const pid = segs.find((x) => nameOf(x) === 'PID');
        return [
          segs,
          value(msh, 'MSH.9'),
          value(msh, 'MSH.10'),
          value(pid, 'PID.3'),
          value(pid, 'PID.5'),
          ...segs.filter((x) => nameOf(x) === 'OBX').map((o) => value(o, 'OBX.5')),
        ];
      },
    };
  });
  await add('@redoxengine/redox-hl7-v2', () => {
    const { Parser } = require('@redoxengine/redox-hl7-v2') as { Parser: new () => { parse(text: string): unknown } };
    const parser = new Parser();
    // Its output nests segments in the message structure's groups: find them wherever they are.
    const find = (node: unknown, name: string, out: unknown[]): unknown[] => {
      if (Array.isArray(node)) for (const n of node) find(n, name, out);
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === name) out.push(...(Array.isArray(v) ? v : [v]));
          else if (k.length > 3 || k === k.toUpperCase()) find(v, name, out);
        }
      }
      return out;
    };
    const first = (v: unknown): unknown =>
      Array.isArray(v) ? first(v[0]) : v && typeof v === 'object' ? first((v as Record<string, unknown>)['1']) : v;
    return {
      name: 'redox-hl7-v2 Parser',
      parse: (s) => parser.parse(s.text),
      read: (s) => {
        const out = parser.parse(s.text) as Record<string, Record<string, unknown>>;
        const pid = find(out, 'PID', [])[0] as Record<string, unknown> | undefined;
        return [
          out,
          first(out.MSH?.['9']),
          first(out.MSH?.['10']),
          first(pid?.['3']),
          first(pid?.['5']),
          ...find(out, 'OBX', []).map((o) => first((o as Record<string, unknown>)['5'])),
        ];
      },
    };
  });
  return peers;
}

interface HL7NodeLike {
  get(path: string | number): HL7NodeLike;
  exists(path: string | number): boolean;
  forEach(cb: (n: HL7NodeLike, i: number) => void): void;
  toString(): string;
}

// ---- measuring ----

/**
 * Messages per second of `fn` over `samples`, running whole passes for about `ms` of this process's CPU time.
 * CPU time (user + system, from process.cpuUsage) rather than wall time: the machine is shared, and CPU time is
 * what the work costs whatever else runs beside it.
 */
function throughput(samples: Sample[], fn: (s: Sample) => unknown, ms: number): number {
  let count = 0;
  let sink = 0;
  const cpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const start = cpu();
  const budget = ms * 1000;
  let elapsed = 0;
  do {
    for (const s of samples) {
      const r = fn(s);
      if (r) sink++;
    }
    count += samples.length;
    elapsed = cpu() - start;
  } while (elapsed < budget);
  if (sink < 0) console.log(sink);
  return (count * 1e6) / elapsed;
}

/** Heap bytes retained per parsed message (all samples parsed and held, after a full GC). */
function heapPerMessage(samples: Sample[], fn: (s: Sample) => unknown): number {
  const held: unknown[] = new Array(samples.length * 4);
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  let k = 0;
  for (let rep = 0; rep < 4; rep++) for (const s of samples) held[k++] = fn(s);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (held.length < 0) console.log(held);
  return (after - before) / held.length;
}

function usable(samples: Sample[], p: Parser): Sample[] {
  return samples.filter((s) => {
    try {
      p.read(s);
      return true;
    } catch {
      return false;
    }
  });
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const samples = loadSamples();
  const peers = await loadPeers();
  if (args.includes('--check')) {
    // What each parser's "read" returns on one ORU: they must read the same fields.
    const s = samples.find((x) => x.name.startsWith('synthetic ORU 20'))!;
    for (const p of [ours, ...peers]) {
      const values = p.read(s).slice(1, 7);
      console.log(`${p.name.padEnd(28)} ${JSON.stringify(values)}`);
    }
    return;
  }
  const totalBytes = samples.reduce((a, s) => a + s.bytes.length, 0);
  console.log(
    `HL7v2 parser benchmark — ${samples.length} messages (${fmt(totalBytes / 1024)} KiB) from ../shared/corpus/hl7v2 + synthetic ORU 20/200 OBX`,
  );
  console.log(
    `node ${process.version}, ${ROUNDS} rounds, ${SLICE_MS} ms per slice, parsers alternating within each round\n`,
  );
  const rows: string[] = [];
  const summary: { peer: string; parse: number; read: number; heap: number; theirsRead: number }[] = [];
  for (const peer of peers.filter((p) => ONLY === undefined || p.name.includes(ONLY))) {
    const set = usable(samples, peer);
    const oursSet = usable(set, ours);
    if (oursSet.length !== set.length)
      console.error(`note: ours failed on ${set.length - oursSet.length} messages ${peer.name} read`);
    // Warm-up: let both reach their optimised code before anything is measured.
    for (const p of [ours, peer]) {
      throughput(oursSet, p.parse, SLICE_MS);
      throughput(oursSet, p.read, SLICE_MS);
    }
    const r = {
      oursParse: [] as number[],
      theirsParse: [] as number[],
      oursRead: [] as number[],
      theirsRead: [] as number[],
    };
    for (let round = 0; round < ROUNDS; round++) {
      const first = round % 2 === 0;
      const order: [Parser, 'ours' | 'theirs'][] = first
        ? [
            [ours, 'ours'],
            [peer, 'theirs'],
          ]
        : [
            [peer, 'theirs'],
            [ours, 'ours'],
          ];
      for (const [p, who] of order) r[`${who}Parse`].push(throughput(oursSet, p.parse, SLICE_MS));
      for (const [p, who] of order) r[`${who}Read`].push(throughput(oursSet, p.read, SLICE_MS));
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    const heap = {
      oursParse: heapPerMessage(oursSet, ours.parse),
      theirsParse: heapPerMessage(oursSet, peer.parse),
      oursRead: heapPerMessage(oursSet, ours.read),
      theirsRead: heapPerMessage(oursSet, peer.read),
    };
    const p = { ours: med(r.oursParse), theirs: med(r.theirsParse) };
    const rd = { ours: med(r.oursRead), theirs: med(r.theirsRead) };
    rows.push(
      `${peer.name}@${peer.version}  (${oursSet.length}/${samples.length} messages it parses)\n` +
        `  parse  ours ${fmt(p.ours)} msg/s   theirs ${fmt(p.theirs)} msg/s   ours/theirs ${fmt(p.ours / p.theirs, 1)}×\n` +
        `  read   ours ${fmt(rd.ours)} msg/s   theirs ${fmt(rd.theirs)} msg/s   ours/theirs ${fmt(rd.ours / rd.theirs, 1)}×\n` +
        `  heap held per message after parse: ours ${fmt(heap.oursParse)} B, theirs ${fmt(heap.theirsParse)} B (theirs/ours ${fmt(heap.theirsParse / heap.oursParse, 1)}×); ` +
        `after read: ours ${fmt(heap.oursRead)} B, theirs ${fmt(heap.theirsRead)} B (theirs/ours ${fmt(heap.theirsRead / heap.oursRead, 1)}×)`,
    );
    console.log(rows[rows.length - 1] + '\n');
    summary.push({
      peer: `${peer.name}@${peer.version}`,
      parse: p.ours / p.theirs,
      read: rd.ours / rd.theirs,
      heap: heap.theirsRead / heap.oursRead,
      theirsRead: rd.theirs,
    });
  }
  const fastest = summary.reduce((a, b) => (b.theirsRead > a.theirsRead ? b : a), summary[0]!);
  if (fastest) {
    console.log(
      `fastest peer on "read": ${fastest.peer} — ours does ${fmt(fastest.read, 1)}× its messages/s (parse only: ${fmt(fastest.parse, 1)}×); it holds ${fmt(fastest.heap, 1)}× our heap per message after read`,
    );
  }
}

await main();
