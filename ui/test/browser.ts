// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for the UI's end-to-end tests: a
// fresh profile per run, the flags this closed network needs, axe-core checks injected through the DevTools
// protocol (the page's CSP forbids inline scripts, and must stay on), screenshots under ui/screenshots/, and
// every console error and CSP violation the pages raise.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { testServiceConfig } from '../../test/services.js';

export const SCREENSHOTS = join(import.meta.dirname, '..', 'screenshots');

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and CSP violations seen so far (CSP reports start with "CSP"). */
  problems: string[];
  close(): Promise<void>;
}

export async function openBrowser(
  options: { width?: number; height?: number; locale?: string } = {},
): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'keney-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: testServiceConfig.chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: options.width ?? 1366, height: options.height ?? 900 },
    locale: options.locale ?? 'fr-FR',
    timezoneId: 'Europe/Paris',
    acceptDownloads: false,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // CSP violations, reported by the page itself (kept in a global the tests read).
  await context.addInitScript(() => {
    const w = globalThis as unknown as {
      __cspViolations: string[];
      addEventListener: (t: string, f: (e: { violatedDirective: string; blockedURI: string }) => void) => void;
    };
    w.__cspViolations = [];
    w.addEventListener('securitypolicyviolation', (e) =>
      w.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return {
    context,
    page,
    problems,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate('globalThis.__cspViolations ?? []') as Promise<string[]>;
}

let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Runs axe-core on the current page for WCAG 2.0/2.1 levels A and AA; returns the violations, readably. */
export async function axeViolations(page: Page): Promise<string[]> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through DevTools (not a <script>): allowed under the page's CSP, which stays strict.
  await page.evaluate(`${axeSource}\n;0`);
  const violations = (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`,
  )) as AxeViolation[];
  return violations.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`).join(' | ')}`,
  );
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  // From the top: a full-page shot taken while scrolled draws the sticky header in the middle of the page.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage, animations: 'disabled' });
  return path;
}
