// The UI end to end, in headless Chromium, against the real hub (`keney serve` as a child process, its default
// modules and the demo's channels) loaded with the demo data set through its real doors: MLLP (ADT, ORU, MDM, SIU,
// ORM, RDE), the FHIR API (the DIM's coding) and STOW-RS (a CT study). Then what a clinician and an integrator
// do: sign in, search a patient by INS typed with spaces, open the record, read the latest potassium with its
// unit and trend, open reports, follow a result to its message, replay a failed message (the RIS was down),
// edit-then-replay a refused one, try a message on the test bench. axe-core checks WCAG 2.1 A/AA on every screen;
// no CSP violation and no console error may happen; screenshots go to ui/screenshots/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDemoChannels } from '../../demo/cli.js';
import { DEMO, insOf, PATIENTS } from '../../demo/dataset.js';
import { loadDemo, type DemoReport } from '../../demo/load.js';
import { MllpServer } from '../../mllp/index.js';
import { prepareEmbeddedDataDir } from '../../test/databases.js';
import { freePort, REPO_ROOT, startHubProcess, type HubProcess } from '../../test/hub-process.js';
import { hasService } from '../../test/services.js';
import { formatIns } from '../src/lib/ins.js';
import { axeViolations, cspViolations, openBrowser, screenshot, type Browser } from './browser.js';

const TOKEN = `kny_ui_test_${Date.now().toString(36)}_0123456789abcdef`;

/** The bundle the hub serves: built here when missing (CI builds it before the tests with `npm run build`). */
function ensureBundle(): void {
  if (existsSync(join(REPO_ROOT, 'ui', 'dist', 'index.html'))) return;
  const result = spawnSync(
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      'ui/vite.config.ts',
      '--logLevel',
      'error',
    ],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`The UI bundle does not build: ${result.stderr}`);
}

/** The fake RIS: an MLLP receiver that acknowledges (AA) and keeps what it got. */
function risAck(message: Buffer): Buffer {
  const controlId = message.toString('utf8').split('\r')[0]!.split('|')[9] ?? '';
  return Buffer.from(
    `MSH|^~\\&|RIS-DEMO|CH-DEMO|KENEY|HUB|20260101000000||ACK^R01^ACK|ACK-${controlId}|P|2.5\rMSA|AA|${controlId}\r`,
  );
}

describe.skipIf(!hasService('chromium'))('the UI in a browser, on the demo data set', () => {
  let work: string;
  let hub: HubProcess;
  let browser: Browser;
  let page: Page;
  let report: DemoReport;
  let risPort: number;
  const base = () => hub.url;

  const admin = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const response = await fetch(`${hub.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
    return (await response.json()) as T;
  };

  async function expectAccessible(name: string) {
    expect(await axeViolations(page), `axe on ${name}`).toEqual([]);
  }

  beforeAll(async () => {
    ensureBundle();
    work = await mkdtemp(join(tmpdir(), 'keney-ui-e2e-'));
    const dataDir = join(work, 'data');
    await prepareEmbeddedDataDir(dataDir);
    await prepareDemoChannels(join(work, 'channels'));
    const [mllp, lab, pharmacy, ris, dicom] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    risPort = ris;
    hub = await startHubProcess({
      KENEY_DATA_DIR: dataDir,
      KENEY_ADMIN_TOKEN: TOKEN,
      KENEY_CHANNELS_DIR: join(work, 'channels'),
      KENEY_MLLP_PORT: String(mllp),
      KENEY_DICOM_PORT: String(dicom),
      KENEY_DEMO_LAB_PORT: String(lab),
      KENEY_DEMO_PHARMACY_PORT: String(pharmacy),
      KENEY_DEMO_RIS_PORT: String(ris),
    });
    report = await loadDemo({ hubUrl: hub.url, token: TOKEN });
    browser = await openBrowser();
    page = browser.page;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.kill('SIGTERM');
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('loads the demo data set through the real channels, the FHIR API and DICOMweb', () => {
    const failed = report.steps.filter((s) => s.outcome !== 'ok');
    expect(failed, JSON.stringify(failed)).toEqual([]);
    expect(report.steps.find((s) => s.label.startsWith('Scanner thoracique'))?.outcome).toBe('ok');
    expect(report.featuredPatientId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is served under a strict Content-Security-Policy and asks for a token', async () => {
    const response = await page.goto(`${base()}/`);
    const csp = response!.headers()['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe');
    await page.getByLabel('Jeton d’API').waitFor();
    await screenshot(page, '01-login');
    await expectAccessible('login');
    await page.getByLabel('Jeton d’API').fill('kny_not_a_token_of_this_hub');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('n’est pas reconnu');
    await page.getByLabel('Jeton d’API').fill(TOKEN);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('heading', { name: 'Rechercher un patient' }).waitFor();
  });

  it('finds a patient by INS typed with spaces, with the identity status and the possible duplicate', async () => {
    const ins = formatIns(insOf(PATIENTS.helene)!);
    expect(ins).toMatch(/^\d \d\d \d\d \d\d \d{3} \d{3} \d\d$/);
    await page.locator('body').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('/');
    await expect
      .poll(() =>
        page.evaluate(
          () => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id,
        ),
      )
      .toBe('patient-search');
    await page.keyboard.type(ins);
    await page.keyboard.press('Enter');
    const row = page.getByRole('row', { name: /BERTRAND Hélène/ });
    await row.waitFor();
    await expect.poll(() => row.textContent()).toContain('QUAL');
    expect(await row.textContent()).toContain(ins);
    expect(await page.getByRole('row').count()).toBe(2);
    await screenshot(page, '02-search-ins');
    await expectAccessible('search');

    // Names + birth date, tolerant: no accents, any order → both records, flagged as possible duplicates.
    await page.getByLabel('INS, IPP, ou nom et date de naissance').fill('helene bertrand 08/03/1952');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('row').count()).toBe(3);
    expect(await page.getByText(/Doublon potentiel/).count()).toBe(2);
    await screenshot(page, '03-search-duplicates');
  });

  it('opens the record: identity banner, the latest potassium with its unit and its trend', async () => {
    await page.goto(`${base()}/patients?q=${encodeURIComponent(formatIns(insOf(PATIENTS.helene)!))}`);
    await page.getByRole('link', { name: 'BERTRAND Hélène' }).click();
    const banner = page.getByRole('region', { name: 'Identité du patient' });
    await banner.waitFor();
    expect(await banner.textContent()).toContain('QUAL');
    expect(await banner.textContent()).toContain('LEROY');
    const potassium = page.getByRole('row', { name: /^Potassium/ });
    await potassium.waitFor();
    const text = (await potassium.textContent())!;
    expect(text).toContain('5,3');
    expect(text).toContain('mmol/l');
    expect(text).toContain('en baisse'); // 5,5 → 5,3
    expect(await potassium.locator('svg circle').count()).toBe(5);
    await page.getByText('Pénicilline').waitFor();
    await screenshot(page, '04-record');
    await expectAccessible('record');

    await potassium.getByRole('link', { name: 'Potassium' }).click();
    const chart = page.getByRole('img', { name: /Évolution : Potassium/ });
    await chart.waitFor();
    expect(await chart.locator('circle').count()).toBe(5);
    expect(await chart.locator('circle.trend-point-abnormal').count()).toBe(4);
    await screenshot(page, '05-results-trend');
    await expectAccessible('results');
  });

  it('shows the stays with their movements, the cancelled one struck through', async () => {
    await page.getByRole('link', { name: 'Séjours' }).click();
    await page.getByRole('heading', { name: 'Séjours et mouvements' }).waitFor();
    expect(await page.locator('.timeline-item').count()).toBe(6);
    expect(await page.locator('.timeline-item.cancelled').count()).toBe(1);
    expect(await page.getByText('UF SOINS INTENSIFS CARDIO').count()).toBeGreaterThan(0);
    await screenshot(page, '06-stays');
    await expectAccessible('stays');
  });

  it('opens a report: the PDF inline, the CDA as safe HTML', async () => {
    await page.getByRole('link', { name: /^Documents/ }).click();
    await page.getByRole('link', { name: 'Compte rendu d’échocardiographie' }).click();
    const frame = page.locator('iframe.pdf-frame');
    await frame.waitFor();
    expect(await frame.getAttribute('src')).toMatch(/^blob:/);
    await page.waitForTimeout(500); // let the PDF viewer paint before the screenshot
    await screenshot(page, '07-report-pdf');
    await page.getByRole('link', { name: '← Tous les documents' }).click();
    await page.getByRole('link', { name: 'Note de consultation' }).click();
    const cda = page.locator('article.cda');
    const unavailable = page.getByText(/n’affiche pas encore les CDA/);
    await Promise.race([cda.waitFor(), unavailable.waitFor()]);
    if (await cda.count()) {
      await page.getByText('Conclusion').first().waitFor();
      expect(await cda.locator('script, iframe, object, [onclick], [style]').count()).toBe(0);
      // The document's own outline sits under the page's (patient h1, document title h2): its h1 becomes h3.
      expect(await cda.locator('h1, h2').count()).toBe(0);
      await cda.getByRole('heading', { level: 3, name: 'Compte rendu de consultation de cardiologie' }).waitFor();
      await screenshot(page, '08-report-cda');
      await expectAccessible('cda report');
    }
  });

  it('shows the imaging study with thumbnails from DICOMweb and opens the images', async () => {
    await page.getByRole('link', { name: /^Imagerie/ }).click();
    await page.getByText('Scanner thoracique sans injection').waitFor();
    const thumbnails = page.locator('img.thumbnail');
    await expect.poll(() => thumbnails.count()).toBe(2);
    await expect
      .poll(() => thumbnails.first().evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth))
      .toBeGreaterThan(0);
    await screenshot(page, '09-imaging');
    await page.getByRole('link', { name: 'Voir les images' }).click();
    await page.getByRole('button', { name: /Thorax axial/ }).click();
    const image = page.locator('img.viewer-image');
    await expect
      .poll(() => image.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth))
      .toBeGreaterThan(0);
    await page.locator('.viewer-stage').focus();
    await page.keyboard.press('ArrowRight');
    await page.getByText('Image 2 / 12').waitFor();
    await screenshot(page, '10-image-viewer');
    await expectAccessible('image viewer');
  });

  it('shows the DIM view: stays, CIM-10 diagnoses, CCAM acts, identity history', async () => {
    await page.getByRole('link', { name: 'Vue DIM' }).click();
    await page.getByRole('heading', { name: 'Diagnostics (CIM-10)' }).waitFor();
    await page.getByRole('cell', { name: 'E87.5' }).waitFor();
    await page.getByRole('cell', { name: 'DZQM006' }).waitFor();
    await page.getByRole('heading', { name: 'Historique de l’identité' }).waitFor();
    await screenshot(page, '11-dim');
    await expectAccessible('dim');
  });

  it('opens the message behind a result', async () => {
    await page.getByRole('link', { name: 'Résultats' }).click();
    await page.getByRole('button', { name: /^Potassium : 5,3/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('3,5–5,1');
    await dialog.getByRole('link', { name: /Ouvrir le message LAB\d+/ }).click();
    await page.getByRole('heading', { name: /^Message LAB\d+$/ }).waitFor();
    await expect.poll(() => page.locator('pre.code-raw').textContent()).toContain('OBX|1|NM|K^Potassium^L||5.3|mmol/l');
    await screenshot(page, '12-message-of-a-result');
    await expectAccessible('message');
  });

  it('replays a failed message from the console once the RIS is back', async () => {
    await page.goto(`${base()}/console`);
    const card = page.getByRole('article', { name: /laboratoire vers dossier et RIS/ });
    await card.waitFor();
    await expect.poll(() => card.locator('td.cell-abnormal').textContent()).toBe('1');
    await screenshot(page, '13-console-channels');
    await expectAccessible('console');

    const received: string[] = [];
    const ris = new MllpServer({
      host: '127.0.0.1',
      port: risPort,
      handler: async (payload) => (received.push(payload.toString('utf8')), { payload: risAck(payload) }),
    });
    await ris.listen();
    try {
      await page.goto(`${base()}/console/messages?status=error`);
      await page.getByRole('link', { name: /Ouvrir le message FWD\d+/ }).click();
      await page.getByRole('heading', { name: /^Message FWD\d+$/ }).waitFor();
      // The dead letter in French, worded from the engine's error code and its parameters (the stored text is English).
      await page
        .getByText(/^La remise à ris a échoué \d+ fois : /)
        .first()
        .waitFor();
      expect(await page.getByText(/^Delivery to ris failed/).count()).toBe(0);
      await screenshot(page, '14-failed-message');
      await page.getByLabel('Rejouer vers').selectOption('ris');
      await page.getByRole('button', { name: 'Rejouer', exact: true }).click();
      await page.getByText('Remis en file pour la destination ris').waitFor();
      await expect.poll(() => received.length, { timeout: 20_000 }).toBe(1);
      expect(received[0]).toContain('OBX|1|NM|K^Potassium^L||3.2|mmol/l');
      await expect
        .poll(
          async () => {
            await page.reload();
            await page.locator('.message-head').waitFor();
            return page.locator('.message-head').textContent();
          },
          { timeout: 20_000 },
        )
        .toContain('traité');
      await page.getByRole('combobox', { name: 'Vue de droite' }).selectOption('responses');
      await page.getByText(`MSA|AA|`).waitFor();
      await screenshot(page, '15-replayed-message');
    } finally {
      await ris.close({ timeoutMs: 2000 });
    }
  });

  it('fixes a refused message with edit-then-replay, keeping the original', async () => {
    await page.goto(`${base()}/console/messages?status=error`);
    await page.getByRole('link', { name: /Ouvrir le message LAB\d+/ }).click();
    await page.getByText('QUALITY_QUANTITY_UCUM', { exact: false }).first().waitFor();
    const originalUrl = page.url();
    await page.getByRole('button', { name: 'Modifier puis rejouer' }).click();
    const dialog = page.getByRole('dialog');
    const textarea = dialog.getByLabel('Message (un segment par ligne)');
    await textarea.fill((await textarea.inputValue()).replace('mmol/lt', 'mmol/L'));
    await dialog.getByRole('button', { name: 'Enregistrer et rejouer' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent()).toContain('Indiquez pourquoi');
    await dialog
      .getByLabel('Raison de la modification (obligatoire)')
      .fill('unité mal saisie par le laboratoire, ticket 4242');
    await dialog.getByRole('button', { name: 'Enregistrer et rejouer' }).click();
    await page.waitForURL((url) => url.href !== originalUrl);
    await expect.poll(() => page.locator('.message-head').textContent()).toContain('traité');
    expect(await page.getByText('ticket 4242').count()).toBe(1);
    await screenshot(page, '16-edited-and-replayed');
    await page.goto(originalUrl);
    await page.getByText('Versions modifiées').waitFor();
  });

  it('tries a message on the mapping test bench without storing anything', async () => {
    const before = await admin<{ messages: unknown[] }>('/admin/messages?limit=1000');
    await page.goto(`${base()}/console/test`);
    await page
      .getByLabel('Message HL7 v2 (collez-le, ou déposez un fichier ici)')
      .fill(
        [
          `MSH|^~\\&|${DEMO.sendingApplication}|${DEMO.facility}|KENEY|HUB|20260101080000+0100||ORU^R01^ORU_R01|BENCH-1|P|2.5`,
          `PID|1||${PATIENTS.camille.ipp}^^^${DEMO.facility}&${DEMO.ippOid}&ISO^PI||PETIT^CAMILLE||19850714|F`,
          'OBR|1|B1|B1R|GLY^Glycémie^L|||20260101073000+0100',
          'OBX|1|NM|GLY^Glucose^L||5.4|mmol/l|4.1-5.9|N|||F|||20260101073000+0100',
        ].join('\n'),
      );
    await page.getByRole('button', { name: 'Tester' }).click();
    await page.getByText('ACK AA').waitFor();
    await expect.poll(() => page.locator('.bench-result').textContent()).toContain('"resourceType": "Observation"');
    await screenshot(page, '17-test-bench');
    await expectAccessible('test bench');
    const after = await admin<{ messages: unknown[] }>('/admin/messages?limit=1000');
    expect(after.messages.length).toBe(before.messages.length);
  });

  it('speaks English with English dates and numbers', async () => {
    await page.goto(
      `${base()}/patients/${report.featuredPatientId}/results?analyte=${encodeURIComponent('http://loinc.org|2823-3')}`,
    );
    await page.getByRole('button', { name: 'EN' }).click();
    await page.getByRole('heading', { name: 'Laboratory results' }).waitFor();
    expect(
      await page
        .getByRole('row', { name: /^Potassium/ })
        .first()
        .textContent(),
    ).toContain('5.3');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await screenshot(page, '18-results-english');
    await page.getByRole('button', { name: 'FR' }).click();
  });

  it('fits a tablet', async () => {
    await page.setViewportSize({ width: 820, height: 1180 });
    await page.goto(`${base()}/patients/${report.featuredPatientId}`);
    await page.getByRole('row', { name: /^Potassium/ }).waitFor();
    const overflow = await page.evaluate(() => {
      const d = (
        globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }
      ).document.documentElement;
      return d.scrollWidth - d.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, '19-record-tablet');
    await expectAccessible('record on a tablet');
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  it('raised no CSP violation and no console error on any screen', async () => {
    expect(await cspViolations(page)).toEqual([]);
    // The one expected console error: the 401 of the wrong token at sign-in.
    expect(browser.problems.filter((p) => !p.includes('401'))).toEqual([]);
  });
});
