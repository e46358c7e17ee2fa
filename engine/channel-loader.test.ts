import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadChannelDirectory, parseChannel } from './channel-loader.js';
import { formatIssue, isEngineError, type ChannelConfigIssue } from './errors.js';

const mappings = {
  has: (id: string) => ['hl7v2/default', 'hl7v2/oru'].includes(id),
  ids: () => ['hl7v2/default', 'hl7v2/oru'],
};
const FILE = 'channels/lab.channel.yaml';

function issuesOf(text: string, env: Record<string, string> = {}): ChannelConfigIssue[] {
  try {
    parseChannel(text, FILE, { env, mappings });
  } catch (error) {
    if (isEngineError(error, 'engine.channel-config')) return [...error.issues];
    throw error;
  }
  throw new Error('expected the channel file to be refused');
}

const VALID = `source:
  type: mllp
  port: 2575
mapping: hl7v2/oru
destinations:
  - type: store
`;

describe('channel files', () => {
  it('loads a valid file with its defaults (id from the file name, listener on all addresses, retry policy)', () => {
    const { config } = parseChannel(
      `${VALID}  - type: mllp\n    name: lis\n    host: lis.example.org\n    port: 2576\n`,
      FILE,
      { env: {}, mappings },
    );
    expect(config).toMatchObject({
      id: 'lab',
      name: 'lab',
      enabled: true,
      format: 'hl7v2',
      quality: true,
      source: { type: 'mllp', host: '0.0.0.0', port: 2575 },
      destinations: [
        { type: 'store', name: 'store' },
        {
          type: 'mllp',
          name: 'lis',
          content: 'raw',
          retry: { maxAttempts: 10, initialDelayMs: 1000, maxDelayMs: 300_000 },
        },
      ],
    });
  });

  it('substitutes ${VAR} and ${VAR:-default}, keeping numbers numbers, and $${ as a literal', () => {
    const text = `source:
  type: mllp
  host: \${HOST:-127.0.0.1}
  port: \${PORT:-2575}
name: "Lab \${SITE}"
description: costs $\${PRICE}
destinations:
  - type: file
    directory: \${OUT}/lab
`;
    const { config } = parseChannel(text, FILE, { env: { PORT: '3000', SITE: 'Nord', OUT: '/var/spool' }, mappings });
    expect(config.source).toMatchObject({ host: '127.0.0.1', port: 3000 });
    expect(config.name).toBe('Lab Nord');
    expect(config.description).toBe('costs ${PRICE}');
    expect(config.destinations[0]).toMatchObject({ directory: '/var/spool/lab' });
  });

  it('names the file, line, column and the fix for a missing variable (and not a confusing type error too)', () => {
    const issues = issuesOf(
      `source:\n  type: mllp\n  port: \${LAB_PORT}\ndestinations:\n  - type: store\nmapping: hl7v2/oru\n`,
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: FILE, line: 3, column: 9, path: 'source.port' });
    expect(issues[0]!.message).toContain('LAB_PORT is not set');
    expect(issues[0]!.fix).toContain('${LAB_PORT:-value}');
  });

  it('reports YAML syntax errors with their line and a fix', () => {
    const tabbed = issuesOf('source:\n\ttype: mllp\n');
    expect(tabbed[0]).toMatchObject({ file: FILE, line: 2 });
    expect(tabbed[0]!.fix).toMatch(/spaces/);
    const duplicate = issuesOf(`${VALID}mapping: hl7v2/default\n`);
    expect(duplicate[0]).toMatchObject({ line: 7 });
    expect(duplicate[0]!.message).toMatch(/unique/i);
    expect(duplicate[0]!.fix).toMatch(/once/);
    const unclosed = issuesOf('source: [mllp\n');
    expect(unclosed[0]!.line).toBeGreaterThan(0);
  });

  it('reports every schema problem at once, each at its own line, with a precise fix', () => {
    const issues = issuesOf(`source:
  type: mllp
  prot: 2575
mapping: hl7v2/oru
destinations:
  - type: stor
  - type: mllp
    host: lis
    port: abc
    retry:
      maxAttempts: 0
`);
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i]));
    expect(byPath['source']).toMatchObject({ line: 2, message: 'needs "port".' });
    expect(byPath['source']!.fix).toContain('port: 2575');
    expect(byPath['source.prot']).toMatchObject({ line: 3, column: 3 });
    expect(byPath['source.prot']!.fix).toContain('Did you mean "port"?');
    expect(byPath['destinations[0].type']).toMatchObject({ line: 6 });
    expect(byPath['destinations[0].type']!.fix).toContain('Did you mean "store"?');
    expect(byPath['destinations[1].port']).toMatchObject({ line: 9, message: 'must be an integer, not "abc".' });
    expect(byPath['destinations[1].retry.maxAttempts']).toMatchObject({ line: 11 });
    expect(byPath['destinations[1].retry.maxAttempts']!.fix).toContain('>= 1');
    for (const issue of issues) expect(formatIssue(issue)).toMatch(new RegExp(`^${FILE}:\\d+:\\d+: .+ Fix: .+`));
  });

  it('checks what the schema cannot: mapping ids, duplicate destination names, filters, store without mapping', () => {
    const unknown = issuesOf(VALID.replace('hl7v2/oru', 'hl7v2/oruu'));
    expect(unknown[0]).toMatchObject({ path: 'mapping', line: 4 });
    expect(unknown[0]!.fix).toContain('Did you mean "hl7v2/oru"?');

    const twice = issuesOf(
      `${VALID}  - type: file\n    name: out\n    directory: /a\n  - type: file\n    name: out\n    directory: /b\n`,
    );
    expect(twice[0]).toMatchObject({ path: 'destinations[2].name', line: 10 });

    const filters = issuesOf(
      `${VALID}filters:\n  - field: MSH-9.1\n    matches: '(unclosed'\n  - field: PID-3\n  - field: MSH-9\n    equals: ADT\n    in: [ADT]\n`,
    );
    expect(filters.map((i) => i.path)).toEqual(['filters[0].matches', 'filters[1]', 'filters[2]']);
    expect(filters[0]!.message).toMatch(/regular expression/);
    expect(filters[0]!.line).toBe(9);

    const noMapping = issuesOf('source:\n  type: mllp\n  port: 1\ndestinations:\n  - type: store\n');
    expect(noMapping[0]!.fix).toContain('mapping: hl7v2/default');

    const badField = issuesOf(`${VALID}filters:\n  - field: MSH9\n    equals: x\n`);
    expect(badField[0]).toMatchObject({ path: 'filters[0].field', line: 8 });
    expect(badField[0]!.fix).toContain('MSH-9.1');
  });

  it('refuses an id that differs from the file name, and a file that is not a mapping', () => {
    expect(issuesOf(`id: other\n${VALID}`)[0]!.fix).toContain('Rename the file to other.channel.yaml');
    expect(issuesOf('- just\n- a list\n')[0]!.message).toMatch(/mapping/);
  });

  it('never evaluates YAML tags or anchors into code, and refuses unknown tags', () => {
    const issues = issuesOf(`source: !!js/function "function () { return 1 }"\ndestinations: []\n`);
    expect(issues.length).toBeGreaterThan(0);
  });
});

describe('a channel directory', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('loads the good files, reports the bad ones, and refuses two listeners on one port', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keney-chan-'));
    dirs.push(dir);
    await writeFile(join(dir, 'a.channel.yaml'), VALID);
    await writeFile(join(dir, 'b.channel.yaml'), VALID);
    await writeFile(join(dir, 'c.channel.yaml'), 'source: {type: mllp}\ndestinations: []\n');
    await writeFile(join(dir, 'notes.txt'), 'not a channel');
    const { loaded, failed } = await loadChannelDirectory(dir, { env: {}, mappings, displayRoot: dir });
    expect(loaded.map((c) => c.config.id)).toEqual(['a']);
    expect(failed.map((f) => f.id).sort()).toEqual(['b', 'c']);
    const clash = failed.find((f) => f.id === 'b')!;
    expect(clash.error.issues[0]!.message).toContain('Port 2575 is already the listener of channel "a"');
    expect(clash.error.issues[0]!.file).toBe('b.channel.yaml');
  });

  it('validates the shipped channel files', async () => {
    const shipped = join(import.meta.dirname, '..', 'channels');
    const names = (await readdir(shipped)).filter((n) => n.endsWith('.channel.yaml'));
    expect(names.length).toBeGreaterThan(0);
    const { loaded, failed } = await loadChannelDirectory(shipped, { env: {}, mappings });
    expect(failed.map((f) => f.error.message)).toEqual([]);
    expect(loaded.find((c) => c.config.id === 'default-inbound')?.config.source).toMatchObject({
      type: 'mllp',
      port: 2575,
      host: '0.0.0.0',
    });
  });
});
