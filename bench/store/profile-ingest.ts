// Profiles the ingest path in one process (node --cpu-prof): N transaction Bundles through app.inject.
// Usage: node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/store/profile-ingest.ts [bundles]
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../hub/config.js';
import { createHub } from '../../hub/hub.js';
import { createLogger } from '../../hub/logger.js';
import { PgliteClient } from '../../store/sql/pglite-client.js';
import { bundleFor } from './data.js';

const bundles = Number(process.argv[2] ?? 300);
const token = `kny_${randomBytes(12).toString('hex')}`;
const config = loadConfig({
  KENEY_DATA_DIR: await mkdtemp(join(tmpdir(), 'prof-')),
  KENEY_ADMIN_TOKEN: token,
  KENEY_HTTP_PORT: '0',
});
const hub = await createHub(config, { sql: await PgliteClient.open(), logger: createLogger('warn') });
await hub.start();
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', prefer: 'return=minimal' };
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < bundles) {
      const r = await hub.app.inject({
        method: 'POST',
        url: '/fhir',
        headers,
        payload: JSON.stringify(bundleFor(next++)),
      });
      if (r.statusCode !== 200) throw new Error(r.body);
    }
  }),
);
const s = (performance.now() - t0) / 1000;
console.log(`${bundles} bundles, ${(bundles * 10) / s} resources/s`);
await hub.stop();
