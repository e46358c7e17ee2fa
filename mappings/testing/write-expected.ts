// Writes fixtures/mappings/<name>.json next to each <name>.hl7 from the current mappings, for review in a diff:
// npx tsx mappings/testing/write-expected.ts [name…]. The fixture test compares them semantically; regenerate
// only after checking by hand that a changed output is right.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHl7Message } from '../../adapters/hl7v2/index.js';
import { createMapperRegistry } from '../index.js';
import { fixtureContext } from './fixture-context.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'mappings');
const registry = createMapperRegistry();
const only = process.argv.slice(2);
for (const file of readdirSync(DIR).filter((f) => f.endsWith('.hl7') && (only.length === 0 || only.some((o) => f.startsWith(o))))) {
  const result = registry.get('hl7v2/default')!.map(parseHl7Message(readFileSync(join(DIR, file))), fixtureContext(file));
  writeFileSync(join(DIR, file.replace(/\.hl7$/, '.json')), `${JSON.stringify({ issues: (result as { issues: unknown[] }).issues, bundle: (result as { bundle: unknown }).bundle }, null, 2)}\n`);
  process.stdout.write(`${file}: ${(result as { bundle: { entry?: unknown[] } }).bundle.entry?.length ?? 0} entries\n`);
}
