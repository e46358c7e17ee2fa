import type { TestProject } from 'vitest/node';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { probeServices, requiredServices } from './services.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // One PGlite template per run, made by the first worker that needs one, shared by the others (test/databases.ts).
  process.env.KENEY_TEST_RUN_ID ??= randomBytes(6).toString('hex');
  const { PGLITE_TEMPLATE } = await import('./databases.js');
  const services = await probeServices();
  const missing = requiredServices().filter((name) => !services[name]);
  if (missing.length > 0) {
    throw new Error(
      `Required test services are not running: ${missing.join(', ')}. ` +
        `Start them with .ci/run (or scripts/services/*), or unset KENEY_TEST_REQUIRE to skip their tests.`,
    );
  }
  const absent = Object.entries(services)
    .filter(([, up]) => !up)
    .map(([name]) => name);
  if (absent.length > 0)
    console.warn(`[test] services absent, their integration tests will be skipped: ${absent.join(', ')}`);
  project.provide('keneyServices', services);
  return async () => {
    await rm(PGLITE_TEMPLATE, { force: true });
    await rm(`${PGLITE_TEMPLATE}.lock`, { recursive: true, force: true });
  };
}
