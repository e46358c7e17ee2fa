// Production build of the clinical UI and integration console: a static bundle in ui/dist that the hub serves at `/`
// (hub/ui-module.ts) under a strict Content-Security-Policy — so no inline script or style may be emitted.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: 'public',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // The module-preload polyfill is a script; keep every script in files (CSP script-src 'self').
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
  },
  // `npx vite ui` (development): the API calls go to a hub running on KENEY_HTTP_PORT (default 8080).
  server: {
    proxy: Object.fromEntries(
      ['/fhir', '/admin', '/dicomweb', '/xds'].map((path) => [
        path,
        `http://127.0.0.1:${process.env.KENEY_HTTP_PORT ?? 8080}`,
      ]),
    ),
  },
});
