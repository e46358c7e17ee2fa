// `keney channel …` commands: run a channel on a sample without a hub (the channel unit test integrators have
// long asked for), run channel test files, check channel files. Registered from hub/cli.ts.
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../hub/cli.js';
import { loadChannelDirectory, loadChannelFile } from './channel-loader.js';
import { runChannelFixture } from './channel-fixtures.js';
import { testChannel } from './channel-test.js';
import { formatIssue, isEngineError } from './errors.js';
import { loadMapperRegistry, type MapperRegistry } from './mapper-registry.js';

export interface ChannelCommandIo {
  out(text: string): void;
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  /** The mapper registry (default: mappings/index.ts). */
  mappers?: () => Promise<MapperRegistry>;
}

const defaultIo: ChannelCommandIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
};

export function channelCommands(io: ChannelCommandIo = defaultIo): Record<string, Command> {
  const mappers = io.mappers ?? loadMapperRegistry;
  const parseOptions = async () => {
    const registry = await mappers();
    return {
      registry,
      options: {
        env: io.env,
        mappings: { has: (id: string) => registry.get(id) !== undefined, ids: () => registry.ids() },
        encoders: {
          has: (id: string) => registry.encoder?.(id) !== undefined,
          ids: () => registry.encoderIds?.() ?? [],
        },
      },
    };
  };
  return {
    'channel test': {
      summary: 'Run a channel on a sample message (or a channel test file) without a hub: ACK, Bundle, issues.',
      usage: 'keney channel test FILE.channel.yaml --message M.hl7 [--json] | keney channel test FILE.test.yaml',
      async run(args) {
        const { values, positionals } = parseArgs({
          args,
          allowPositionals: true,
          options: { message: { type: 'string', short: 'm' }, json: { type: 'boolean' } },
        });
        const file = positionals[0];
        if (!file) {
          io.err(
            'Give a channel file and a message: keney channel test channels/lab.channel.yaml --message sample.hl7',
          );
          return 64;
        }
        const { registry, options } = await parseOptions();
        if (file.endsWith('.test.yaml') || file.endsWith('.test.yml')) {
          const results = await runChannelFixture(file, registry, io.env).catch((error: Error) => {
            io.err(isEngineError(error) ? error.issues.map(formatIssue).join('\n') || error.message : error.message);
            return undefined;
          });
          if (!results) return 1;
          for (const r of results) {
            io.out(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}`);
            for (const f of r.failures) io.out(`       ${f.replace(/\n/g, '\n       ')}`);
          }
          const failed = results.filter((r) => !r.ok).length;
          io.out(`${results.length - failed} passed, ${failed} failed.`);
          return failed === 0 ? 0 : 1;
        }
        if (!values.message) {
          io.err('Give the sample message: --message path/to/message.hl7');
          return 64;
        }
        let loaded;
        try {
          loaded = await loadChannelFile(resolve(file), { ...options, displayRoot: process.cwd() });
        } catch (error) {
          if (!isEngineError(error)) throw error;
          for (const issue of error.issues) io.err(formatIssue(issue));
          return 1;
        }
        let raw: Buffer;
        try {
          raw = await readFile(values.message);
        } catch (error) {
          io.err(
            `Cannot read the message ${values.message}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
          );
          return 64;
        }
        // A sample written in an editor has \n line ends; HL7 segments end with \r.
        if (!raw.includes(0x0d)) raw = Buffer.from(raw.toString('latin1').replace(/\n/g, '\r'), 'latin1');
        const result = await testChannel(loaded.config, raw, registry);
        if (values.json) {
          io.out(JSON.stringify(result, null, 2));
        } else {
          io.out(
            `Channel ${loaded.config.id}: ${result.ackCode}, status ${result.status}${result.filtered ? ` (filtered: ${result.filtered})` : ''}`,
          );
          if (result.destinations.length) io.out(`Would be queued for: ${result.destinations.join(', ')}`);
          for (const issue of result.issues)
            io.out(
              `  ${issue.severity.toUpperCase().padEnd(11)} ${issue.stage}: ${issue.code}${issue.location ? ` at ${issue.location}` : ''}${issue.rule ? ` [${issue.rule}]` : ''}: ${issue.message}`,
            );
          if (result.acknowledgment) io.out(`\nAcknowledgment:\n${result.acknowledgment.replace(/\r/g, '\n')}`);
          if (result.bundle)
            io.out(
              `\nBundle (${result.bundle.entry?.length ?? 0} entries):\n${JSON.stringify(result.bundle, null, 2)}`,
            );
        }
        return result.ack === 'accept' ? 0 : 1;
      },
    },
    'channel check': {
      summary:
        'Validate channel files (a file or a directory, default ./channels): each problem with file:line and the fix.',
      usage: 'keney channel check [FILE.channel.yaml|DIR]...',
      async run(args) {
        const targets = args.length > 0 ? args : ['channels'];
        const { options } = await parseOptions();
        let problems = 0;
        for (const target of targets) {
          const info = await stat(target).catch(() => undefined);
          if (!info) {
            io.err(`${target}: no such file or directory.`);
            problems++;
            continue;
          }
          if (info.isDirectory()) {
            const { loaded, failed } = await loadChannelDirectory(resolve(target), {
              ...options,
              displayRoot: process.cwd(),
            });
            for (const c of loaded)
              io.out(
                `ok   ${c.file} (${c.config.id}: ${c.config.source.type} → ${c.config.destinations.map((d) => d.name).join(', ')})`,
              );
            for (const f of failed) {
              problems += f.error.issues.length || 1;
              for (const issue of f.error.issues) io.err(formatIssue(issue));
            }
          } else {
            try {
              const c = await loadChannelFile(resolve(target), { ...options, displayRoot: process.cwd() });
              io.out(`ok   ${c.file} (${c.config.id})`);
            } catch (error) {
              if (!isEngineError(error)) throw error;
              problems += error.issues.length || 1;
              for (const issue of error.issues) io.err(formatIssue(issue));
            }
          }
        }
        return problems === 0 ? 0 : 1;
      },
    },
  };
}

/** Called by hub/cli.ts: adds the channel commands. */
export function registerChannelCommands(register: (name: string, command: Command) => void): void {
  for (const [name, command] of Object.entries(channelCommands())) register(name, command);
}
