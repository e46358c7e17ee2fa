#!/usr/bin/env node
// The `keney` command. Runs the compiled hub (dist/server, made by `npm install` or `npm run build:hub`: plain
// JavaScript, no loader, a faster start) when it matches the sources on disk exactly; otherwise — no build, sources
// edited since, a broken build — says why on stderr and runs the TypeScript sources through tsx, as it always could.
// KENEY_FROM_SOURCES=1 always runs the sources.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILD_DIR, checkBuild } from '../hub/build.mjs';

const fromSources = async (reason) => {
  if (reason) console.error(`keney: ${reason}; running from the TypeScript sources (slower start).`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('../hub/cli.ts');
};

if (process.env.KENEY_FROM_SOURCES === '1') {
  await fromSources();
} else {
  const build = checkBuild();
  if (!build.ok) {
    await fromSources(build.reason);
  } else {
    // Stack traces name the TypeScript lines (dist/server has source maps), as under tsx.
    process.setSourceMapsEnabled(true);
    try {
      await import(pathToFileURL(join(BUILD_DIR, 'hub', 'cli.js')).href);
    } catch (error) {
      // A build that cannot load (a file missing or damaged in dist/server): the sources are the reference, so run
      // them, and say how to repair the build. Any other error is the hub's own, the same from the sources: shown.
      // A module that does not parse fails in Node's module loader (a JSON.parse error at run time does not).
      const unparsable = error instanceof SyntaxError && String(error.stack).includes('node:internal/modules/');
      const unresolved =
        typeof error?.code === 'string' && error.code.startsWith('ERR_') && String(error.message).includes(BUILD_DIR);
      if (!unparsable && !unresolved) throw error;
      const detail = `${error.code ?? error.name}: ${String(error.message).split('\n')[0]}`;
      await fromSources(`the compiled hub in dist/server does not load (${detail}); \`npm run build:hub\` rebuilds it`);
    }
  }
}
