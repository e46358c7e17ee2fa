// Runs every channel test file — channels/*.test.yaml (the shipped channels, with the shipped mappings) and
// fixtures/channels/*.test.yaml — one test per case. The same runner is `keney channel test FILE.test.yaml`.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChannelFixture } from '../engine/channel-fixtures.js';
import { loadMapperRegistry } from '../engine/mapper-registry.js';

const root = join(import.meta.dirname, '..');
const files = ['channels', 'fixtures/channels'].flatMap((dir) =>
  readdirSync(join(root, dir))
    .filter((name) => name.endsWith('.test.yaml'))
    .map((name) => join(dir, name)),
);

describe('channel test files', () => {
  it('exist for the shipped channels', () => {
    expect(files).toContain('channels/default-inbound.test.yaml');
  });

  for (const file of files) {
    it(`${file}: every case passes`, async () => {
      const results = await runChannelFixture(join(root, file), await loadMapperRegistry(), {});
      const failed = results.filter((r) => !r.ok).map((r) => `${r.name}:\n  ${r.failures.join('\n  ')}`);
      expect(failed).toEqual([]);
      expect(results.length).toBeGreaterThan(0);
    }, 60_000);
  }
});
