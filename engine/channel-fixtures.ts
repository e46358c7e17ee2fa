// Channel unit tests as files: `channels/<name>.test.yaml` lists sample messages and what the channel must do
// with each (ACK code, status, resources produced, issues). They run in the suite (channels/channel-fixtures.test.ts)
// and from the command line (`keney channel test channels/x.test.yaml`), with nothing stored and no port opened.
//
//   channel: default-inbound.channel.yaml        # relative to this file
//   env: { KENEY_MLLP_PORT: "0" }                 # optional, for ${VAR} in the channel file
//   cases:
//     - name: an admission creates the patient
//       message: ../fixtures/channels/adt-a01.hl7 # a file, relative to this file…
//       hl7: |                                     # …or the message inline (lines become \r segments)
//         MSH|^~\&|…
//       expect:
//         ack: AA                                  # AA | AE | AR
//         status: sent                             # received | filtered | queued | sent | error
//         resources: { Patient: 1, Encounter: 1 }  # resource types in the Bundle, with their counts
//         issues: [BIRTH_DATE_MISSING]             # issue codes that must be reported (any severity)
//         noErrors: true                           # no error issue at all
//         errLocations: ["PID-3.1"]                # ERR-2 locations that must be in the ACK
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { parseChannel } from './channel-loader.js';
import { testChannel, type ChannelTestResult } from './channel-test.js';
import type { MapperRegistry } from './mapper-registry.js';

export interface FixtureExpectation {
  ack?: 'AA' | 'AE' | 'AR';
  status?: string;
  resources?: Record<string, number>;
  issues?: string[];
  noErrors?: boolean;
  errLocations?: string[];
  filtered?: boolean;
}

export interface FixtureCase {
  name: string;
  message?: string;
  hl7?: string;
  expect: FixtureExpectation;
}

export interface ChannelFixture {
  file: string;
  channel: string;
  env: Record<string, string>;
  cases: FixtureCase[];
}

export interface CaseResult {
  name: string;
  ok: boolean;
  failures: string[];
  result: ChannelTestResult | undefined;
}

export async function readChannelFixture(file: string): Promise<ChannelFixture> {
  const text = await readFile(file, 'utf8');
  const doc = parse(text) as Partial<ChannelFixture> | null;
  const problems: string[] = [];
  if (!doc || typeof doc !== 'object')
    throw new Error(`${file}: a channel test file is a YAML mapping with channel and cases.`);
  if (typeof doc.channel !== 'string') problems.push('`channel:` (the channel file, relative to this file) is missing');
  if (!Array.isArray(doc.cases) || doc.cases.length === 0) problems.push('`cases:` must list at least one case');
  (doc.cases ?? []).forEach((c, i) => {
    if (!c || typeof c !== 'object') return problems.push(`cases[${i}] must be a mapping`);
    if (typeof c.name !== 'string') problems.push(`cases[${i}] needs a name`);
    if ((c.message === undefined) === (c.hl7 === undefined))
      problems.push(`cases[${i}] needs exactly one of message (a file) or hl7 (inline)`);
    if (!c.expect || typeof c.expect !== 'object')
      problems.push(`cases[${i}] needs expect: (ack, status, resources, issues…)`);
    return undefined;
  });
  if (problems.length) throw new Error(`${file}: ${problems.join('; ')}.`);
  return { file, channel: doc.channel!, env: doc.env ?? {}, cases: doc.cases! };
}

/** Runs every case of a fixture file against its channel. */
export async function runChannelFixture(
  file: string,
  mappers: MapperRegistry,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<CaseResult[]> {
  const fixture = await readChannelFixture(file);
  const base = dirname(resolve(file));
  const channelFile = resolve(base, fixture.channel);
  const loaded = parseChannel(await readFile(channelFile, 'utf8'), channelFile, {
    env: { ...env, ...fixture.env },
    mappings: { has: (id) => mappers.get(id) !== undefined, ids: () => mappers.ids() },
  });
  const results: CaseResult[] = [];
  for (const c of fixture.cases) {
    const raw =
      c.message !== undefined
        ? await readFile(resolve(base, c.message))
        : Buffer.from(c.hl7!.replace(/\r?\n/g, '\r'), 'utf8');
    const result = await testChannel(loaded.config, raw, mappers, new Date('2026-01-24T08:30:00Z'));
    const failures = check(c.expect, result);
    results.push({ name: c.name, ok: failures.length === 0, failures, result });
  }
  return results;
}

function check(expect: FixtureExpectation, result: ChannelTestResult): string[] {
  const failures: string[] = [];
  if (expect.ack && result.ackCode !== expect.ack)
    failures.push(
      `ack: expected ${expect.ack}, got ${result.ackCode}${result.issues.length ? ` (${result.issues.map((i) => i.code).join(', ')})` : ''}`,
    );
  if (expect.status && result.status !== expect.status)
    failures.push(`status: expected ${expect.status}, got ${result.status}`);
  if (expect.filtered !== undefined && (result.filtered !== null) !== expect.filtered)
    failures.push(`filtered: expected ${expect.filtered}, got ${result.filtered ?? 'not filtered'}`);
  if (expect.resources) {
    const counts: Record<string, number> = {};
    for (const entry of result.bundle?.entry ?? []) {
      const type = entry.resource?.resourceType ?? entry.request?.url?.split(/[/?]/)[0] ?? '?';
      counts[type] = (counts[type] ?? 0) + 1;
    }
    for (const [type, n] of Object.entries(expect.resources)) {
      if ((counts[type] ?? 0) !== n)
        failures.push(
          `resources: expected ${n} ${type}, got ${counts[type] ?? 0} (bundle has ${JSON.stringify(counts)})`,
        );
    }
  }
  for (const code of expect.issues ?? [])
    if (!result.issues.some((i) => i.code === code || i.rule === code))
      failures.push(`issues: ${code} was not reported (got ${result.issues.map((i) => i.code).join(', ') || 'none'})`);
  if (expect.noErrors) {
    const errors = result.issues.filter((i) => i.severity === 'error');
    if (errors.length) failures.push(`noErrors: got ${errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  }
  for (const location of expect.errLocations ?? []) {
    const ack = result.acknowledgment ?? '';
    const [segment, rest = ''] = location.split('-');
    const [field, component] = rest.split('.');
    const erl = `${segment!.replace(/\[\d+\]/, '')}^${/\[(\d+)\]/.exec(segment!)?.[1] ?? '1'}^${field}${component ? `^1^${component}` : ''}`;
    if (!ack.split('\r').some((s) => s.startsWith('ERR|') && s.includes(erl)))
      failures.push(
        `errLocations: no ERR segment locates ${location} (${erl}) in the ACK:\n${ack.replace(/\r/g, '\n')}`,
      );
  }
  return failures;
}
