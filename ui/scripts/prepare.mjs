// `npm install` / `npm ci` run this (the root package.json's `prepare`): build the UI bundle (ui/dist) so that
// `npm install && npm start` serves the UI at `/`. It never fails the install: without the build tools
// (`npm ci --omit=dev`) or with a broken build, it says so and the hub's `/` explains how to build.
// `npm run build` is the strict build (type check + bundle) that CI runs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const vite = fileURLToPath(new URL('../../node_modules/vite/bin/vite.js', import.meta.url));

if (process.env.KENEY_SKIP_UI_BUILD === '1') {
  console.warn('[keney] KENEY_SKIP_UI_BUILD=1: the UI bundle is not built (npm run build builds it).');
} else if (!existsSync(fileURLToPath(new URL('../index.html', import.meta.url))) || !existsSync(vite)) {
  console.warn(
    '[keney] The UI bundle is not built: its sources or build tools (devDependencies) are not installed. Run `npm run build` where they are.',
  );
} else {
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'ui/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status === 0) console.warn('[keney] UI bundle built in ui/dist.');
  else
    console.warn(
      '[keney] The UI build failed (the hub still runs; its / page says how to build). Run `npm run build` to see the errors.',
    );
}
