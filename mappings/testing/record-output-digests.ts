// Re-records fixtures/mappings/output-digests.json after a deliberate mapping change (see output-digest.ts):
// npx tsx mappings/testing/record-output-digests.ts [--dump DIR]   (--dump also writes every output to DIR/*.json)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DIGESTS_FILE, digestOf, mapAllInputs, readRecordedDigests } from './output-digest.js';

const { values } = parseArgs({ options: { dump: { type: 'string' }, check: { type: 'boolean', default: false } } });
const before = readRecordedDigests();
const mapped = mapAllInputs();
const digests: Record<string, string> = {};
for (const m of mapped) digests[m.name] = digestOf(m.output);
const changed = mapped.filter((m) => before[m.name] !== digests[m.name]).map((m) => m.name);
if (values.dump) {
  mkdirSync(values.dump, { recursive: true });
  for (const m of mapped)
    writeFileSync(
      join(values.dump, `${m.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`),
      `${JSON.stringify(JSON.parse(m.output), null, 1)}\n`,
    );
}
if (!values.check) writeFileSync(DIGESTS_FILE, `${JSON.stringify(digests, null, 2)}\n`);
process.stdout.write(
  `${mapped.length} inputs mapped; ${changed.length} outputs differ from the recorded digests${changed.length ? `:\n  ${changed.join('\n  ')}` : ''}\n`,
);
