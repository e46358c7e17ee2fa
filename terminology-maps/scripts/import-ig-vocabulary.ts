// Regenerates terminology-maps/hl7v2-tables/*.json — FHIR ConceptMaps — from the HL7 V2-to-FHIR IG vocabulary
// tables (../shared/corpus/hl7v2/hl7-v2-to-fhir-ig/mapping-spec-csv/codesystems/*.csv, the normative source).
// Run: npx tsx terminology-maps/scripts/import-ig-vocabulary.ts [csv-dir]
// Rows without a FHIR code (no equivalent in FHIR) are kept as `unmatched` elements so that $translate says so.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsv } from '../csv.js';

const source = process.argv[2] ?? join(process.cwd(), '../shared/corpus/hl7v2/hl7-v2-to-fhir-ig/mapping-spec-csv/codesystems');
const out = join(process.cwd(), 'terminology-maps/hl7v2-tables');
mkdirSync(out, { recursive: true });

function v2System(table: string): string {
  const m = /^HL7(\d{4})$/i.exec(table.trim());
  return m ? `http://terminology.hl7.org/CodeSystem/v2-${m[1]}` : table.trim();
}

let written = 0;
for (const file of readdirSync(source).filter((f) => f.startsWith('HL7_Concept_Map__') && f.endsWith('.csv')).sort()) {
  const name = file.slice('HL7_Concept_Map__'.length).replace(/_-_Sheet1\.csv$/, '').replace(/\.csv$/, '');
  const id = name.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 64);
  const rows = parseCsv(readFileSync(join(source, file), 'utf8')).slice(2);
  const groups = new Map<string, { source: string; target: string; element: unknown[] }>();
  for (const row of rows) {
    const [code, text, table, , , , targetCode, , targetDisplay, targetSystem] = row.map((c) => (c ?? '').trim());
    if (!code) continue;
    const src = v2System(table ?? '');
    const tgt = targetSystem ?? '';
    const key = `${src}|${tgt}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { source: src, target: tgt, element: [] }));
    group.element.push({
      code,
      ...(text ? { display: text.slice(0, 200) } : {}),
      target: targetCode
        ? [{ code: targetCode, ...(targetDisplay ? { display: targetDisplay } : {}), equivalence: 'equivalent' }]
        : [{ equivalence: 'unmatched', comment: 'The V2-to-FHIR IG gives no FHIR code for this v2 code.' }],
    });
  }
  if (groups.size === 0) continue;
  const map = {
    resourceType: 'ConceptMap',
    id,
    url: `https://keney.health/fhir/ConceptMap/${id}`,
    name: id.replace(/[^A-Za-z0-9]/g, ''),
    title: `HL7 v2 ${name} → FHIR (V2-to-FHIR IG)`,
    status: 'active',
    description: `Generated from the HL7 V2-to-FHIR IG vocabulary table ${file} by terminology-maps/scripts/import-ig-vocabulary.ts.`,
    group: [...groups.values()].map((g) => ({ source: g.source, ...(g.target ? { target: g.target } : {}), element: g.element })),
  };
  writeFileSync(join(out, `${id}.json`), `${JSON.stringify(map, null, 2)}\n`);
  written++;
}
process.stdout.write(`${written} ConceptMaps written to ${out}\n`);
