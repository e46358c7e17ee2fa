// `keney channel test` and `keney channel check`, as an integrator runs them: no hub, no database, no port.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelCommands } from './cli-commands.js';
import { adt, oru, testRegistry } from './test-support.js';

describe('keney channel commands', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const commands = () =>
    channelCommands({ out: (t) => out.push(t), err: (t) => err.push(t), env: {}, mappers: async () => testRegistry() });
  const run = async (name: string, ...args: string[]) => {
    out = [];
    err = [];
    return commands()[name]!.run(args);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keney-cli-'));
    await writeFile(
      join(dir, 'lab.channel.yaml'),
      'source:\n  type: mllp\n  port: 2575\nmapping: test/patient\ndestinations:\n  - type: store\n  - type: file\n    name: copy\n    directory: /tmp/x\n',
    );
    await writeFile(
      join(dir, 'broken.channel.yaml'),
      'source:\n  type: mllp\n  port: 2575\nmaping: test/patient\ndestinations:\n  - type: store\n',
    );
    // A sample as an editor writes it: \n line ends.
    await writeFile(join(dir, 'good.hl7'), oru('CLI-1', 'P1').replace(/\r/g, '\n'));
    await writeFile(join(dir, 'bad.hl7'), adt('CLI-2', ''));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('runs a channel on a sample: ACK, destinations, Bundle; exit 0 when accepted', async () => {
    const code = await run('channel test', join(dir, 'lab.channel.yaml'), '--message', join(dir, 'good.hl7'));
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('Channel lab: AA, status queued');
    expect(text).toContain('Would be queued for: copy');
    expect(text).toContain('MSA|AA|CLI-1');
    expect(text).toContain('"resourceType": "Observation"');
  });

  it('shows the issues and the negative ACK, and exits 1, for a refused message', async () => {
    const code = await run('channel test', join(dir, 'lab.channel.yaml'), '--message', join(dir, 'bad.hl7'), '--json');
    expect(code).toBe(1);
    const result = JSON.parse(out.join('\n')) as {
      ackCode: string;
      issues: { code: string; location: string }[];
      acknowledgment: string;
    };
    expect(result.ackCode).toBe('AE');
    expect(result.issues[0]).toMatchObject({ code: 'PATIENT_ID_MISSING', location: 'PID-3.1' });
    expect(result.acknowledgment).toContain('ERR||PID^1^3^1^1|');
  });

  it('reports a broken channel file with file:line and the fix instead of running it', async () => {
    const code = await run('channel test', join(dir, 'broken.channel.yaml'), '--message', join(dir, 'good.hl7'));
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(
      /broken\.channel\.yaml:4:1: maping: "maping" is not a setting of a channel\. Fix: Did you mean "mapping"\?/,
    );
  });

  it('checks a directory: ok for good files, every problem of the bad ones, exit 1', async () => {
    const code = await run('channel check', dir);
    expect(code).toBe(1);
    expect(out.join('\n')).toContain('ok   ');
    expect(out.join('\n')).toContain('lab.channel.yaml (lab: mllp → store, copy)');
    expect(err.join('\n')).toContain('broken.channel.yaml:4:1');
  });

  it('runs a channel test file and reports each failing expectation', async () => {
    await writeFile(
      join(dir, 'lab.test.yaml'),
      'channel: lab.channel.yaml\ncases:\n  - name: accepted\n    message: good.hl7\n    expect: { ack: AA, resources: { Patient: 1, Observation: 1 } }\n' +
        '  - name: wrongly expected\n    message: bad.hl7\n    expect: { ack: AA, resources: { Patient: 1 } }\n',
    );
    const code = await run('channel test', join(dir, 'lab.test.yaml'));
    expect(code).toBe(1);
    const text = out.join('\n');
    expect(text).toContain('ok   accepted');
    expect(text).toContain('FAIL wrongly expected');
    expect(text).toContain('ack: expected AA, got AE (PATIENT_ID_MISSING)');
    expect(text).toContain('resources: expected 1 Patient, got 0');
    expect(text).toContain('1 passed, 1 failed.');
  });

  it('says what is missing when called without a file or a message', async () => {
    expect(await run('channel test')).toBe(64);
    expect(err[0]).toContain('keney channel test channels/lab.channel.yaml --message sample.hl7');
    expect(await run('channel test', join(dir, 'lab.channel.yaml'))).toBe(64);
    expect(err[0]).toContain('--message');
    expect(await run('channel test', join(dir, 'lab.channel.yaml'), '--message', join(dir, 'nope.hl7'))).toBe(64);
    expect(err[0]).toContain('ENOENT');
  });
});
