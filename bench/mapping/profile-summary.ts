// Summarizes a V8 .cpuprofile: self time and total (inclusive) time per function, top N.
// npx tsx bench/mapping/profile-summary.ts DIR|FILE.cpuprofile [N] [FOCUS]   (a directory: its largest profile, the main
// thread's; FOCUS: only the samples with a frame whose label contains it, e.g. 'map mappings/engine/registry.ts')
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const arg = process.argv[2]!;
const file = statSync(arg).isDirectory()
  ? readdirSync(arg)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(arg, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0]!
  : arg;
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const top = process.argv[3] ? Number(process.argv[3]) : 40;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: Node) =>
  `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(work\/main|node_modules)\//, '')}:${n.callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
const focus = process.argv[4];
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  if (focus) {
    let inside = false;
    for (let x: number | undefined = id; x !== undefined && !inside; x = parent.get(x))
      inside = label(byId.get(x)!).includes(focus);
    if (!inside) return;
  }
  all += dt;
  const n = byId.get(id)!;
  self.set(label(n), (self.get(label(n)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
    const l = label(byId.get(x)!);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + dt);
  }
});
const pct = (v: number) => `${((100 * v) / all).toFixed(1).padStart(5)} %`;
process.stdout.write(`self time, top ${top}:\n`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(v)}  ${k}\n`);
process.stdout.write(`\ninclusive time, top ${top}:\n`);
for (const [k, v] of [...total].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(v)}  ${k}\n`);
