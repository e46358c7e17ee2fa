// `npx tsx terminology-maps/load-cli.ts cim10|ccam FILE [--code-column N] [--display-column M] [--separator ';']
// [--version V] [--encoding latin1]` — loads a CIM-10 or CCAM file into the hub's database (same configuration
// as `keney`: KENEY_DATA_DIR or KENEY_DATABASE_URL). On the embedded profile the hub must be stopped.
import { parseArgs } from 'node:util';
import { loadConfig } from '../hub/config.js';
import { createHub } from '../hub/hub.js';
import { createLogger } from '../hub/logger.js';
import { loadCodeSystem, LoadError, LoadableSystem } from './loader.js';
import { terminologyModule } from './module.js';
import { TerminologyService } from './terminology.js';

export async function runLoad(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'code-column': { type: 'string' }, 'display-column': { type: 'string' }, separator: { type: 'string' }, version: { type: 'string' }, encoding: { type: 'string' } },
  });
  const [kind, file] = positionals;
  if ((kind !== LoadableSystem.Cim10 && kind !== LoadableSystem.Ccam) || !file) {
    console.error('usage: load-cli.ts cim10|ccam FILE [--code-column N] [--display-column M] [--separator ";"] [--version V] [--encoding latin1]');
    return 64;
  }
  const config = loadConfig();
  const hub = await createHub(config, { modules: [terminologyModule()], offline: true, logger: createLogger('warn') });
  try {
    const count = await loadCodeSystem(hub.context.sql, new TerminologyService({ directories: [] }).systems, kind, file, {
      ...(values['code-column'] ? { codeColumn: Number(values['code-column']) } : {}),
      ...(values['display-column'] ? { displayColumn: Number(values['display-column']) } : {}),
      ...(values.separator ? { separator: values.separator } : {}),
      ...(values.version ? { version: values.version } : {}),
      ...(values.encoding === 'latin1' || values.encoding === 'utf8' ? { encoding: values.encoding } : {}),
    });
    process.stdout.write(`Loaded ${count} ${kind} concepts from ${file}.\n`);
    return 0;
  } catch (error) {
    if (error instanceof LoadError) {
      console.error(`load-cli: ${error.message}`);
      return 65;
    }
    throw error;
  } finally {
    await hub.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runLoad(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
