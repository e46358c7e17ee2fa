// `keney demo` — the demo data set, created by anyone in one command:
//   keney demo                       starts a hub of its own (data in ./data/demo, the default channels plus the
//                                    demo's), loads the data set through its real channels once, prints the URL and
//                                    the token, and keeps serving until Ctrl-C;
//   keney demo --url URL --token T   loads the data set into a hub that is already running.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DemoError, findPatient, loadDemo } from './load.js';
import { formatIns } from '../ui/src/lib/ins.js';
import { insOf, PATIENTS } from './dataset.js';

const REPO = resolve(import.meta.dirname, '..');

/** The command's output (a CLI: stdout is its interface). */
function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Copies the hub's channels and the demo's into `dir` (the KENEY_CHANNELS_DIR of a demo hub). */
export async function prepareDemoChannels(dir: string, shippedDir = join(REPO, 'channels')): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const copied: string[] = [];
  for (const source of [shippedDir, join(REPO, 'demo', 'channels')]) {
    for (const name of await readdir(source)) {
      if (!name.endsWith('.channel.yaml')) continue;
      await copyFile(join(source, name), join(dir, name));
      copied.push(name);
    }
  }
  return copied;
}

/** The demo hub's admin token: KENEY_ADMIN_TOKEN, else one kept in the demo data directory (so re-runs reuse it). */
async function demoToken(dataDir: string): Promise<string> {
  const fromEnv = process.env.KENEY_ADMIN_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const file = join(dataDir, 'demo-admin-token');
  try {
    const kept = (await readFile(file, 'utf8')).trim();
    if (kept.length >= 16) return kept;
  } catch {
    // first run
  }
  const token = `kny_demo_${randomBytes(24).toString('base64url')}`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}

function printReport(report: Awaited<ReturnType<typeof loadDemo>>): void {
  const failed = report.steps.filter((s) => s.outcome === 'failed').length;
  const skipped = report.steps.filter((s) => s.outcome === 'skipped').length;
  say(`\n${report.steps.length - failed - skipped} steps done, ${skipped} skipped, ${failed} failed.`);
}

async function intoRunningHub(url: string, token: string | undefined, mllpHost: string | undefined): Promise<number> {
  if (!token) throw new DemoError('Give an admin token: --token kny_… (or set KENEY_ADMIN_TOKEN).');
  const report = await loadDemo({
    hubUrl: url,
    token,
    ...(mllpHost ? { mllpHost } : {}),
    log: (line) => say(line),
  });
  printReport(report);
  say(`\nOpen ${url}/patients/${report.featuredPatientId ?? ''} and sign in with your token.`);
  return report.ok ? 0 : 1;
}

async function serveDemo(dataDir: string, reload: boolean): Promise<number> {
  const { loadConfig } = await import('../hub/config.js');
  const { createHub } = await import('../hub/hub.js');
  const { defaultModules } = await import('../hub/modules.js');
  const token = await demoToken(dataDir);
  const channelsDir = join(dataDir, 'channels');
  await prepareDemoChannels(channelsDir);
  process.env.KENEY_CHANNELS_DIR = channelsDir;
  const config = loadConfig({ ...process.env, KENEY_DATA_DIR: dataDir, KENEY_ADMIN_TOKEN: token });
  const hub = await createHub(config, { modules: await defaultModules(config) });
  await hub.start();
  const port = (hub.app.server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  try {
    const options = { hubUrl: url, token, log: (line: string) => say(line) };
    const existing = await findPatient(options, PATIENTS.helene.ipp);
    let featured = existing;
    if (existing && !reload) {
      say(`The demo data set is already in ${dataDir} (run with --reload to send it again).`);
    } else {
      say(`Loading the demo data set into ${dataDir} through the hub's channels…`);
      const report = await loadDemo(options);
      printReport(report);
      featured = report.featuredPatientId;
    }
    say(
      `\n  Keney Hub demo is running.\n\n    Open     http://localhost:${port}/patients/${featured ?? ''}\n    Token    ${token}\n\n` +
        `  Try: search "${formatIns(insOf(PATIENTS.helene)!)}" (Hélène BERTRAND's INS), open the console, replay the failed message.\n  Ctrl-C stops the hub (the data stays in ${dataDir}).\n`,
    );
  } catch (error) {
    await hub.stop();
    throw error;
  }
  await new Promise<void>((resolveStop) => {
    const stop = () => void hub.stop().finally(resolveStop);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      'mllp-host': { type: 'string' },
      'data-dir': { type: 'string' },
      reload: { type: 'boolean' },
    },
  });
  try {
    if (values.url)
      return await intoRunningHub(
        values.url.replace(/\/$/, ''),
        values.token ?? process.env.KENEY_ADMIN_TOKEN,
        values['mllp-host'],
      );
    return await serveDemo(
      resolve(values['data-dir'] ?? process.env.KENEY_DEMO_DATA_DIR ?? join('data', 'demo')),
      values.reload ?? false,
    );
  } catch (error) {
    if (error instanceof DemoError) {
      console.error(`keney demo: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
