// `keney` — run the hub and administer it. Offline commands (store, audit, token) open the database
// directly: on the embedded profile the hub must be stopped (the data directory lock says so).
import { parseArgs } from 'node:util';
import { projectionDigest } from '../store/projection/projector.js';
import { registerDemoCommand } from '../demo/command.js';
import { registerChannelCommands } from '../engine/cli-commands.js';
import { registerTerminologyCommands } from '../terminology-maps/cli-commands.js';
import { ConfigError, loadConfig } from './config.js';
import { DataDirLockedError } from './data-dir-lock.js';
import { createHub, HUB_VERSION, type Hub } from './hub.js';
import { defaultModules } from './modules.js';
import { verifyStore } from './store-verify.js';
import { ROLES, type Role } from './tokens.js';

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  serve: {
    summary: 'Run the hub (what `npm start` does).',
    usage: 'keney serve',
    run: serve,
  },
  'store rebuild': {
    summary: 'Empty the projection and refold it from the change log (offset 0); prints the digest.',
    usage: 'keney store rebuild',
    run: async () =>
      offline(async (hub) => {
        const { projector, sql } = hub.context;
        const started = Date.now();
        let last = 0;
        await projector.rebuild((partition, offset, end) => {
          if (Date.now() - last > 1000 || offset >= end) {
            last = Date.now();
            process.stdout.write(`\rpartition ${partition}: ${offset}/${end} records`);
          }
        });
        process.stdout.write('\n');
        console.log(`Rebuilt in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
        printDigest(await projectionDigest(sql));
        return 0;
      }),
  },
  'store verify': {
    summary:
      'Check the projection against the log: offsets, applied change sets, history, and every index row recomputed.',
    usage: 'keney store verify',
    run: async () =>
      offline(async (hub) => {
        const report = await verifyStore(hub.context, (done, total) =>
          process.stdout.write(`\rchecked ${done}/${total} resources`),
        );
        process.stdout.write('\n');
        for (const line of report.lines) console.log(line);
        for (const problem of report.problems) console.error(`PROBLEM: ${problem}`);
        console.log(
          report.problems.length === 0
            ? 'The store is consistent.'
            : `${report.problems.length} problem(s) found: run \`keney store rebuild\` to refold the projection from the log.`,
        );
        return report.problems.length === 0 ? 0 : 1;
      }),
  },
  'store digest': {
    summary: 'Print the digest of every projection table (compare two stores, or before/after a rebuild).',
    usage: 'keney store digest',
    run: async () =>
      offline(async (hub) => {
        printDigest(await projectionDigest(hub.context.sql));
        return 0;
      }),
  },
  'audit verify': {
    summary: 'Walk the hash-chained audit trail and report any modified, deleted or inserted row.',
    usage: 'keney audit verify',
    run: async () =>
      offline(async (hub) => {
        const result = await hub.context.audit.verify((rows) => process.stdout.write(`\rverified ${rows} rows`));
        process.stdout.write('\n');
        for (const problem of result.problems) console.error(`TAMPERED: ${problem.detail}`);
        console.log(
          result.ok
            ? `Audit trail intact: ${result.rows} rows.`
            : `Audit trail broken: ${result.problems.length} problem(s) in ${result.rows} rows.`,
        );
        return result.ok ? 0 : 2;
      }),
  },
  'token create': {
    summary: 'Create an API token (shown once).',
    usage: 'keney token create --name NAME [--role admin|write|read]...',
    run: async (args) => {
      const { values } = parseArgs({
        args,
        options: { name: { type: 'string' }, role: { type: 'string', multiple: true } },
      });
      if (!values.name)
        throw new UsageError('--name is required, e.g. keney token create --name "lab interface" --role write');
      const roles = (values.role ?? ['read']) as Role[];
      for (const role of roles)
        if (!ROLES.includes(role)) throw new UsageError(`Unknown role "${role}": use ${ROLES.join(', ')}.`);
      return offline(async (hub) => {
        const { token, principal } = await hub.context.tokens.create(values.name!, roles);
        console.log(
          `Token for "${principal.name}" (${principal.roles.join(', ')}), id ${principal.id}:\n\n  ${token}\n\nStore it now: it is not shown again.`,
        );
        return 0;
      });
    },
  },
  'token list': {
    summary: 'List API tokens (never their values).',
    usage: 'keney token list',
    run: async () =>
      offline(async (hub) => {
        for (const t of await hub.context.tokens.list())
          console.log(`${t.id}  ${t.revoked ? 'revoked' : 'active '}  ${t.roles.join(',').padEnd(12)} ${t.name}`);
        return 0;
      }),
  },
  'token revoke': {
    summary: 'Revoke an API token by id.',
    usage: 'keney token revoke ID',
    run: async ([id]) => {
      if (!id) throw new UsageError('Give the token id (see `keney token list`).');
      return offline(async (hub) => {
        const ok = await hub.context.tokens.revoke(id);
        console.log(ok ? `Revoked ${id}.` : `No active token ${id}.`);
        return ok ? 0 : 1;
      });
    },
  },
};

/** Lets other modules add commands (e.g. `channel test`, `demo`). */
export function registerCommand(name: string, command: Command): void {
  commands[name] = command;
}
registerChannelCommands(registerCommand);
registerDemoCommand(registerCommand);
registerTerminologyCommands(registerCommand);

class UsageError extends Error {}

function printDigest(digest: Record<string, string>): void {
  for (const [table, value] of Object.entries(digest)) console.log(`${table.padEnd(22)} ${value}`);
}

/** Opens the hub's stores without listening, runs fn, closes. */
async function offline(fn: (hub: Hub) => Promise<number>): Promise<number> {
  const config = loadConfig();
  const hub = await createHub(config, {
    modules: [],
    offline: true,
    logger: (await import('./logger.js')).createLogger('warn'),
  });
  try {
    if (config.profile === 'cluster') {
      const live = await hub.context.sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM hub_instances WHERE seen_at > now() - interval '15 seconds'`,
      );
      if (live.rows[0]!.n > 0)
        throw new UsageError(`${live.rows[0]!.n} hub instance(s) are running on this database: stop them first.`);
    }
    return await fn(hub);
  } finally {
    await hub.stop();
  }
}

async function serve(): Promise<number> {
  // Milliseconds since the process started: the time Node took to load the code (from dist/server or, through tsx,
  // from the TypeScript sources).
  const codeLoaded = Math.round(performance.now());
  const config = loadConfig();
  const hub = await createHub(config, { modules: await defaultModules(config) });
  const url = await hub.start();
  const { logger } = hub.context;
  logger.info(
    {
      url,
      profile: config.profile,
      dataDir: config.dataDir,
      version: HUB_VERSION,
      startup: { code: codeLoaded, ...hub.startup, total: Math.round(performance.now()) },
    },
    'Keney Hub is running',
  );
  if (hub.firstAdminToken) {
    // Printed once, on stdout, never through the logger.
    process.stdout.write(
      `\n  Keney Hub ${HUB_VERSION} — first start.\n  Admin API token (shown only this once; keep it safe):\n\n    ${hub.firstAdminToken}\n\n` +
        `  Try: curl -H "Authorization: Bearer <token>" http://localhost:${config.httpPort}/fhir/Patient\n\n`,
    );
  }
  let stopping = false;
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping: finishing in-flight work');
      hub.stop().then(
        () => resolve(),
        (error) => {
          logger.error({ err: error }, 'error while stopping');
          resolve();
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function help(): void {
  console.log(`keney ${HUB_VERSION} — Keney Hub\n\nCommands:`);
  for (const command of Object.values(commands)) console.log(`  ${command.usage.padEnd(52)} ${command.summary}`);
  console.log(
    '\nConfiguration comes from the environment (KENEY_DATA_DIR, KENEY_HTTP_PORT, KENEY_DATABASE_URL, KENEY_KAFKA_BROKERS…): see README.md.',
  );
}

export async function main(argv: string[]): Promise<number> {
  const [first, second, ...rest] = argv;
  if (!first || first === 'help' || first === '--help' || first === '-h') {
    help();
    return 0;
  }
  const two = second ? commands[`${first} ${second}`] : undefined;
  const command = two ?? commands[first];
  if (!command) {
    console.error(`Unknown command "${argv.join(' ')}".`);
    help();
    return 64;
  }
  try {
    return await command.run(two ? rest : [second, ...rest].filter((x): x is string => x !== undefined));
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof DataDirLockedError) {
      console.error(`keney: ${error.message}`);
      return 64;
    }
    console.error('keney: failed:', error);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('bin/keney.js')) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
