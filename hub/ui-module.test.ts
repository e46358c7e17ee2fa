// The UI module on a bare Fastify app (no database): the bundle under a strict CSP, client-side routes answered
// with index.html but never an API path, no way out of ui/dist, the page that says how to build, /admin/whoami.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirErrors } from '../store/fhir/outcome.js';
import type { HubContext } from './module.js';
import type { TokenPrincipal } from './tokens.js';
import { resolveInside, UI_CSP, uiModule } from './ui-module.js';

const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/app-1a2b.js"></script></head><body><div id="root"></div></body></html>';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});`;

async function appWith(distDir: string): Promise<FastifyInstance> {
  const app = Fastify();
  const principals: Record<string, TokenPrincipal> = { kny_reader: { id: 'r1', name: 'ward nurse', roles: ['read'] } };
  const hub = {
    principalOf(request: { headers: Record<string, string | undefined> }) {
      const principal = principals[(request.headers.authorization ?? '').replace('Bearer ', '')];
      if (!principal) throw fhirErrors.unauthorized('Authentication required: send Authorization: Bearer <token>.');
      return principal;
    },
    requireRole() {},
  } as unknown as HubContext;
  // An API plugin with its own 404, as /fhir has.
  await app.register(
    async (fhir) => {
      fhir.get('/metadata', async () => ({ resourceType: 'CapabilityStatement' }));
      fhir.setNotFoundHandler((_request, reply) => reply.code(404).send({ resourceType: 'OperationOutcome' }));
    },
    { prefix: '/fhir' },
  );
  app.get('/healthz', async () => ({ status: 'ok' }));
  await uiModule({ distDir }).register!(app, hub);
  return app;
}

describe('UI module', () => {
  let dist: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dist = await mkdtemp(join(tmpdir(), 'keney-ui-dist-'));
    await mkdir(join(dist, 'assets'));
    await writeFile(join(dist, 'index.html'), INDEX);
    await writeFile(join(dist, 'assets', 'app-1a2b.js'), SCRIPT);
    await writeFile(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(join(tmpdir(), 'keney-ui-secret.txt'), 'CONTENT-OUTSIDE-THE-BUNDLE');
    app = await appWith(dist);
  });
  afterAll(async () => {
    await app.close();
    await rm(dist, { recursive: true, force: true });
  });

  it('serves index.html at / with a CSP that forbids inline script, eval, other origins and framing', async () => {
    const response = await app.inject({ url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(INDEX);
    const csp = response.headers['content-security-policy'] as string;
    expect(csp).toBe(UI_CSP);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'self'");
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['cache-control']).toBe('no-cache');
  });

  it('answers client-side routes with index.html, and only those', async () => {
    for (const url of ['/patients', '/patients/123/results?analyte=x', '/console/messages/abc']) {
      const response = await app.inject({ url, headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(response.statusCode, url).toBe(200);
      expect(response.body).toBe(INDEX);
    }
    // An API client asking for JSON gets a 404, not a web page.
    expect((await app.inject({ url: '/patients/123', headers: { accept: 'application/json' } })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/patients' })).statusCode).toBe(404);
  });

  it('never shadows the APIs: their routes and their own 404s stay theirs', async () => {
    expect((await app.inject({ url: '/fhir/metadata' })).json()).toEqual({ resourceType: 'CapabilityStatement' });
    expect((await app.inject({ url: '/fhir/No/Such/Thing', headers: { accept: 'text/html' } })).json()).toEqual({
      resourceType: 'OperationOutcome',
    });
    for (const url of [
      '/admin/nothing',
      '/dicomweb/studies/x',
      '/xds/registry',
      '/metrics/x',
      '/healthz/x',
      '/readyz/x',
      '/mhd/x',
    ]) {
      const response = await app.inject({ url, headers: { accept: 'text/html' } });
      expect(response.statusCode, url).toBe(404);
      expect(response.body).not.toContain('<div id="root">');
    }
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });

  it('serves hashed assets immutable and compressed, and top-level files of the bundle', async () => {
    const plain = await app.inject({ url: '/assets/app-1a2b.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.body).toBe(SCRIPT);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toContain('immutable');
    const gzip = await app.inject({ url: '/assets/app-1a2b.js', headers: { 'accept-encoding': 'gzip' } });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gzip.rawPayload.length).toBeLessThan(SCRIPT.length / 4);
    const br = await app.inject({ url: '/assets/app-1a2b.js', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(br.headers['content-encoding']).toBe('br');
    const again = await app.inject({
      url: '/assets/app-1a2b.js',
      headers: { 'if-none-match': plain.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
    expect((await app.inject({ url: '/favicon.svg' })).headers['content-type']).toBe('image/svg+xml');
    expect((await app.inject({ url: '/assets/missing.js' })).statusCode).toBe(404);
  });

  it('refuses every way out of the bundle directory', async () => {
    const attempts = [
      '/assets/../../keney-ui-secret.txt',
      '/assets/..%2f..%2fkeney-ui-secret.txt',
      '/assets/%2e%2e/%2e%2e/keney-ui-secret.txt',
      '/assets/..%5c..%5ckeney-ui-secret.txt',
      '/..%2fkeney-ui-secret.txt',
      '/assets/app-1a2b.js%00.html',
      '/assets/%E0%A4%A',
      `/assets/${'a/'.repeat(600)}x.js`,
    ];
    for (const url of attempts) {
      const response = await app.inject({ url, headers: { accept: 'text/html' } });
      expect(response.body, url).not.toContain('CONTENT-OUTSIDE-THE-BUNDLE');
      expect([400, 404], url).toContain(response.statusCode);
    }
    expect(resolveInside(dist, '/../x')).toBeUndefined();
    expect(resolveInside(dist, '/assets/app-1a2b.js')).toBe(join(dist, 'assets', 'app-1a2b.js'));
  });

  it('says how to build the UI when the bundle is missing', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'keney-ui-empty-'));
    const bare = await appWith(join(empty, 'dist'));
    const response = await bare.inject({ url: '/patients', headers: { accept: 'text/html' } });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('npm run build');
    expect(response.headers['content-security-policy']).toBe(UI_CSP);
    await bare.close();
    await rm(empty, { recursive: true, force: true });
  });

  it('tells the UI who holds a token, and refuses an unknown one with the admin error shape', async () => {
    const me = await app.inject({ url: '/admin/whoami', headers: { authorization: 'Bearer kny_reader' } });
    expect(me.json()).toEqual({ id: 'r1', name: 'ward nurse', roles: ['read'] });
    const anonymous = await app.inject({ url: '/admin/whoami' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.message).toMatch(/Authorization: Bearer/);
  });
});
