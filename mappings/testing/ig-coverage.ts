// Which rows of the HL7 V2-to-FHIR IG (../shared/corpus/hl7v2/hl7-v2-to-fhir-ig/mapping-spec-csv) our templates
// follow: for every IG segment or datatype map that has a template of the same name (`PV1[Encounter]`,
// `XON[Organization]`), the IG rows with a FHIR target whose v2 field (or component) no rule of the template reads.
// A row read by a rule is counted as followed (the rule may still differ: the deviations are in TEMPLATES.md).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseCsv } from '../../terminology-maps/csv.js';
import { loadTemplates, type LoadedTemplates } from '../engine/load.js';
import { MAPPINGS_DIR } from '../engine/registry.js';

export const IG_DIR = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'shared',
  'corpus',
  'hl7v2',
  'hl7-v2-to-fhir-ig',
  'mapping-spec-csv',
);

/** The shipped templates, read (and schema-checked) by the engine's own loader. */
const shippedTemplates = (): LoadedTemplates => loadTemplates([join(MAPPINGS_DIR, 'hl7v2')]);

export interface IgRow {
  /** `PV1-37`, `XON.8` */
  element: string;
  name: string;
  target: string;
  condition: string;
}

export interface IgMapCoverage {
  map: string;
  rows: number;
  followed: number;
  notFollowed: IgRow[];
}

/** Template name → the field or component numbers its rules read (`37`, `13` for `NK1-13`), with `with` rules. */
function templateReads(templates: LoadedTemplates): Map<string, Set<string>> {
  const reads = new Map<string, Set<string>>();
  const visit = (map: string, segment: string, rules: unknown[]): void => {
    for (const rule of rules as { from?: unknown; with?: unknown[] }[]) {
      if (rule.from !== undefined) {
        const from = String(rule.from);
        // `NK1-13.1` read from a datatype map over a whole segment counts for that segment's map too.
        const absolute = /^([A-Z][A-Z0-9]{2})-(\d+)/.exec(from);
        const targets = absolute ? [`${absolute[1]}@`, ...(absolute[1] === segment ? [map] : [])] : [map];
        const number = absolute ? absolute[2]! : from.split('.')[0]!;
        for (const target of targets) {
          if (!reads.has(target)) reads.set(target, new Set());
          reads.get(target)!.add(number);
        }
      }
      if (Array.isArray(rule.with)) visit(map, segment, rule.with);
    }
  };
  for (const map of [...templates.segments.values(), ...templates.datatypes.values()]) {
    if (!reads.has(map.name)) reads.set(map.name, new Set());
    visit(map.name, map.name.slice(0, map.name.indexOf('[')), map.rules);
  }
  // A datatype map over a whole segment (NK1[PatientContact]) follows rows of that segment's IG map (NK1[Patient]).
  for (const [name, fields] of reads) {
    if (!name.endsWith('@')) continue;
    const segment = name.slice(0, -1);
    for (const [other, set] of reads) if (other.startsWith(`${segment}[`)) for (const f of fields) set.add(f);
  }
  return reads;
}

function igRows(file: string): { map: string; rows: IgRow[] } | undefined {
  const table = parseCsv(readFileSync(file, 'utf8'));
  const header = table.findIndex((r) => r.some((c) => /^FHIR Attribute/.test(c.trim())));
  if (header < 0) return undefined;
  const col = (re: RegExp) => table[header]!.findIndex((c) => re.test(c.trim()));
  const id = col(/^Identifier$/);
  const name = col(/^Name$/);
  const target = col(/^FHIR Attribute/);
  const conditionCols = [col(/^Computable ANTLR$/), col(/^Narrative$/)].filter((i) => i >= 0);
  if (id < 0 || target < 0) return undefined;
  const rows: IgRow[] = [];
  for (const r of table.slice(header + 1)) {
    const element = (r[id] ?? '').trim();
    const to = (r[target] ?? '').trim();
    if (!/^[A-Z][A-Z0-9]{1,2}[.-]\d+/.test(element) || !to) continue;
    rows.push({
      element,
      name: (r[name] ?? '').trim(),
      target: to,
      condition: conditionCols.map((i) => (r[i] ?? '').trim()).find(Boolean) ?? '',
    });
  }
  const base = /__(.+?)_-_/.exec(file)?.[1];
  const code = rows[0]?.element.split(/[.-]/)[0];
  if (!base || !code || !base.startsWith(code)) return undefined;
  return { map: `${code}[${base.slice(code.length)}]`, rows };
}

/** Coverage of every IG map that has a template of the same name, and the IG maps that have none. */
export function igCoverage(templates: LoadedTemplates = shippedTemplates()): {
  maps: IgMapCoverage[];
  withoutTemplate: string[];
} {
  const reads = templateReads(templates);
  const maps: IgMapCoverage[] = [];
  const withoutTemplate: string[] = [];
  for (const folder of ['segments', 'datatypes']) {
    const dir = join(IG_DIR, folder);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.csv'))) {
      const ig = igRows(join(dir, file));
      if (!ig || ig.rows.length === 0) continue;
      const fields = reads.get(ig.map);
      if (!fields) {
        withoutTemplate.push(ig.map);
        continue;
      }
      const notFollowed = ig.rows.filter((r) => !fields.has(r.element.split(/[.-]/)[1]!));
      maps.push({ map: ig.map, rows: ig.rows.length, followed: ig.rows.length - notFollowed.length, notFollowed });
    }
  }
  return { maps: maps.sort((a, b) => a.map.localeCompare(b.map)), withoutTemplate: withoutTemplate.sort() };
}

export interface IgMessageCoverage {
  /** `ADT_A01` */
  message: string;
  /** Our message map file that handles it. */
  file: string;
  /** Segment maps the IG's message map uses that no instance (or `also`) of ours uses: `DG1[Encounter]`… */
  notUsed: string[];
}

/**
 * For each IG message map (ADT_A01, ORU_R01…), the segment maps it names that our message map never instantiates.
 * Provenance and Bundle maps are left out: lineage is the store's (Provenance per change set), not a template's.
 */
export function igMessageCoverage(templates: LoadedTemplates = shippedTemplates()): IgMessageCoverage[] {
  const ours = templates.messages.map((m) => ({
    file: basename(m.file),
    events: m.events,
    maps: new Set(m.instances.flatMap((i) => [i.map, ...(i.also ?? []).map((a) => a.map)])),
  }));
  const out: IgMessageCoverage[] = [];
  const igDir = join(IG_DIR, 'messages');
  if (!existsSync(igDir)) return out;
  for (const file of readdirSync(igDir).filter((f) => f.endsWith('.csv'))) {
    const message = /__([A-Z0-9]{3}_[A-Z0-9]{3})_-_/.exec(file)?.[1];
    if (!message) continue;
    const event = message.replace('_', '^');
    const map = ours.find((o) => o.events.some((e) => e === event || e === `${event.slice(0, 3)}^*`));
    if (!map) continue;
    const named = new Set<string>();
    for (const row of parseCsv(readFileSync(join(igDir, file), 'utf8')))
      for (const cell of row) for (const m of cell.matchAll(/\b([A-Z][A-Z0-9]{2}\[[A-Za-z-]+\])/g)) named.add(m[1]!);
    const notUsed = [...named]
      .filter((m) => !m.includes('Provenance') && m !== 'MSH[Bundle]' && !map.maps.has(m))
      .sort();
    out.push({ message, file: map.file, notUsed });
  }
  return out.sort((a, b) => a.message.localeCompare(b.message));
}

// npx tsx mappings/testing/ig-coverage.ts [MAP]   — every map, or one (`PV1[Encounter]`) with its rows not followed
if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const only = process.argv[2];
  const templates = shippedTemplates();
  const { maps, withoutTemplate } = igCoverage(templates);
  const out: string[] = [];
  let rows = 0;
  let followed = 0;
  for (const m of maps) {
    rows += m.rows;
    followed += m.followed;
    if (only && m.map !== only) continue;
    out.push(`${m.map.padEnd(40)} ${m.followed}/${m.rows} IG rows read`);
    for (const r of only ? m.notFollowed : [])
      out.push(`    ${r.element} ${r.name} → ${r.target}${r.condition ? `  (${r.condition.slice(0, 80)})` : ''}`);
  }
  if (!only) {
    out.push(`\n${followed}/${rows} rows of the ${maps.length} IG maps that have a template are read by it`);
    out.push(`IG maps without a template (${withoutTemplate.length}): ${withoutTemplate.join(', ')}`);
    out.push('\nSegment maps of the IG message maps that our message maps do not use:');
    for (const m of igMessageCoverage(templates))
      out.push(`  ${m.message} (${m.file}): ${m.notUsed.join(', ') || '—'}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
