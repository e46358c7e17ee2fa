// The clinical UI and integration console (ui/): serves the production bundle (ui/dist) at `/` under a strict
// Content-Security-Policy, falls back to index.html for the UI's own paths (/patients/…, /console/…) without
// ever shadowing the APIs, says how to build the bundle when it is missing, and tells the UI who holds a token
// (GET /admin/whoami). Decisions: docs/adr/0007-ui-bundle-and-session.md.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isFhirError } from '../store/fhir/outcome.js';
import { adminError } from './admin-routes.js';
import type { HubContext, HubModule } from './module.js';
import { Role } from './tokens.js';

/** No inline script or style, no eval, nothing from elsewhere, never framed. */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  // data: for images inside CDA narratives, blob: for images and PDFs fetched with the token.
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "media-src 'self' blob:",
  "frame-src 'self' blob:",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "manifest-src 'self'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': UI_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

/** Paths that belong to APIs: never answered with the UI, whatever follows them. */
export const API_PREFIXES = ['/fhir', '/admin', '/dicomweb', '/xds', '/metrics', '/healthz', '/readyz', '/mhd'];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.svg', '.json', '.webmanifest', '.txt', '.map']);
const MAX_PATH = 1024;

export interface UiModuleOptions {
  /** The built bundle (default: ui/dist next to this repository's hub/). */
  distDir?: string;
}

interface CachedFile {
  body: Buffer;
  gzip?: Buffer;
  brotli?: Buffer;
  etag: string;
  mtimeMs: number;
  size: number;
}

function isApiPath(path: string): boolean {
  return API_PREFIXES.some(
    (prefix) => path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`),
  );
}

/** The file a URL path names inside dist, or undefined when the path is not a plain relative file path. */
export function resolveInside(distDir: string, urlPath: string): string | undefined {
  if (urlPath.length > MAX_PATH) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (
    decoded.includes('\0') ||
    decoded.includes('\\') ||
    decoded.split('/').some((part) => part === '..' || part === '.')
  )
    return undefined;
  const root = resolve(distDir);
  const file = resolve(root, `.${decoded.startsWith('/') ? decoded : `/${decoded}`}`);
  return file.startsWith(root + sep) ? file : undefined;
}

const MISSING_BUNDLE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Keney Hub — the UI is not built</title></head>
<body>
<h1>The Keney Hub UI is not built yet</h1>
<p>The hub runs (its APIs answer at <code>/fhir</code> and <code>/admin</code>), but the web interface bundle
<code>ui/dist</code> is missing. Build it from the repository, then reload this page:</p>
<pre>npm run build</pre>
<p>(<code>npm install</code> builds it too, as its <code>prepare</code> step.)</p>
<hr>
<p lang="fr">L’interface web n’est pas construite : lancez <code>npm run build</code> dans le dépôt, puis rechargez la page.</p>
</body></html>
`;

export function uiModule(options: UiModuleOptions = {}): HubModule {
  const distDir = resolve(options.distDir ?? fileURLToPath(new URL('../ui/dist', import.meta.url)));
  const cache = new Map<string, CachedFile>();

  /** Reads (and compresses once) a file of the bundle; undefined when it does not exist. */
  async function load(file: string): Promise<CachedFile | undefined> {
    let info;
    try {
      info = await stat(file);
    } catch {
      return undefined;
    }
    if (!info.isFile()) return undefined;
    const cached = cache.get(file);
    if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return cached;
    const body = await readFile(file);
    const entry: CachedFile = {
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      mtimeMs: info.mtimeMs,
      size: info.size,
    };
    if (COMPRESSIBLE.has(extname(file)) && body.length > 1024) {
      entry.gzip = gzipSync(body, { level: 9 });
      entry.brotli = brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 10 } });
    }
    if (cache.size > 500) cache.clear();
    cache.set(file, entry);
    return entry;
  }

  async function send(
    request: FastifyRequest,
    reply: FastifyReply,
    file: string,
    entry: CachedFile,
    immutable: boolean,
  ) {
    reply.headers(SECURITY_HEADERS);
    reply.header('content-type', CONTENT_TYPES[extname(file)] ?? 'application/octet-stream');
    reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    reply.header('etag', entry.etag);
    reply.header('vary', 'accept-encoding');
    if (request.headers['if-none-match'] === entry.etag) return reply.code(304).send();
    const accept = String(request.headers['accept-encoding'] ?? '');
    if (entry.brotli && /\bbr\b/.test(accept)) return reply.header('content-encoding', 'br').send(entry.brotli);
    if (entry.gzip && /\bgzip\b/.test(accept)) return reply.header('content-encoding', 'gzip').send(entry.gzip);
    return reply.send(entry.body);
  }

  async function sendIndex(request: FastifyRequest, reply: FastifyReply) {
    const file = join(distDir, 'index.html');
    const entry = await load(file);
    if (!entry) {
      return reply
        .code(503)
        .headers(SECURITY_HEADERS)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(MISSING_BUNDLE);
    }
    return send(request, reply, file, entry, false);
  }

  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    reply
      .code(404)
      .send({
        message: `Route ${request.method}:${request.url.split('?')[0]} not found`,
        error: 'Not Found',
        statusCode: 404,
      });

  return {
    name: 'ui',

    async register(app: FastifyInstance, hub: HubContext) {
      // Who holds this token: the UI's login check and its role-dependent menus.
      app.get('/admin/whoami', async (request, reply) => {
        try {
          const principal = hub.principalOf(request);
          hub.requireRole(principal, Role.Admin, Role.Write, Role.Read);
          return reply
            .header('cache-control', 'no-store')
            .send({ id: principal.id, name: principal.name, roles: principal.roles });
        } catch (error) {
          if (isFhirError(error)) {
            const issue = error.outcome.issue?.[0];
            return reply
              .code(error.status)
              .send(adminError(error.status, issue?.code ?? 'error', issue?.details?.text ?? error.message));
          }
          throw error;
        }
      });

      app.get('/', sendIndex);
      app.get('/assets/*', async (request, reply) => {
        const file = resolveInside(distDir, request.url.split('?')[0]!);
        const entry = file ? await load(file) : undefined;
        if (!file || !entry) return notFound(request, reply);
        return send(request, reply, file, entry, true);
      });

      // Everything no route matched: a file at the bundle's top level (favicon…), else — for a GET that wants a
      // page, outside the APIs — the UI's index.html, so that /patients/42 can be reloaded and bookmarked.
      app.setNotFoundHandler(async (request, reply) => {
        const path = request.url.split('?')[0]!;
        if ((request.method !== 'GET' && request.method !== 'HEAD') || isApiPath(path)) return notFound(request, reply);
        const file = resolveInside(distDir, path);
        if (file && extname(file)) {
          const entry = await load(file);
          return entry ? send(request, reply, file, entry, false) : notFound(request, reply);
        }
        const accept = String(request.headers.accept ?? '');
        if (!file || (accept && !accept.includes('text/html') && !accept.includes('*/*')))
          return notFound(request, reply);
        return sendIndex(request, reply);
      });
    },
  };
}
