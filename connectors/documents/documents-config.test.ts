// The documents configuration file: ${VAR} from the environment, PEM given inline or as a path, and every mistake
// reported with the file, the line and what to do.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentsConfigError, loadDocumentsConfig, parseDocumentsConfig } from './documents-config.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function issuesOf(text: string, env: Record<string, string> = {}): DocumentsConfigError['issues'] {
  try {
    parseDocumentsConfig(text, 'documents.yaml', env);
  } catch (error) {
    if (error instanceof DocumentsConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a DocumentsConfigError');
}

describe('documents configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keney-docs-config-'));
    await writeFile(join(dir, 'ca.pem'), PEM);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads destinations and mailboxes, substitutes ${VAR}, reads PEM files relative to the file', async () => {
    const file = join(dir, 'documents.yaml');
    await writeFile(
      file,
      [
        'repositoryUniqueId: 1.2.250.1.999.7.1',
        'destinations:',
        '  - kind: xds',
        '    name: dmp',
        '    url: https://dmp.example/repository',
        '    tls: { ca: ca.pem }',
        '    retry: { maxAttempts: 5 }',
        '  - kind: mssante',
        '    name: mail',
        '    host: smtp.example',
        '    port: ${SMTP_PORT:-587}',
        '    secure: false',
        '    user: hub@ch-test.mssante.fr',
        '    password: ${MAIL_PASSWORD}',
        '    from: hub@ch-test.mssante.fr',
        'mailboxes:',
        '  - { kind: imap, name: hub, host: imap.example, port: 993, secure: true, user: hub@ch-test.mssante.fr, password: "${MAIL_PASSWORD}" }',
      ].join('\n'),
    );
    const config = loadDocumentsConfig(file, { MAIL_PASSWORD: 's3cret' });
    expect(config.destinations?.[0]).toMatchObject({
      kind: 'xds',
      name: 'dmp',
      tls: { ca: PEM },
      retry: { maxAttempts: 5 },
    });
    expect(config.destinations?.[1]).toMatchObject({ kind: 'mssante', port: 587, password: 's3cret' });
    expect(config.mailboxes?.[0]).toMatchObject({ kind: 'imap', password: 's3cret' });
  });

  it('names the line and the fix of each mistake', () => {
    const text = [
      'repositoryUniqueId: not-an-oid',
      'destinations:',
      '  - kind: xds',
      '    name: dmp',
      '    uri: https://x',
      'mailboxes:',
      '  - kind: pop3',
      '    name: x',
      'colour: blue',
    ].join('\n');
    const issues = issuesOf(text);
    const byLine = new Map(issues.map((i) => [i.line, i.message]));
    expect(byLine.get(1)).toMatch(/not-an-oid.*expected form/);
    expect(issues.some((i) => i.line === 3 && /needs "url"|"uri" is not a setting/.test(i.message))).toBe(true);
    expect(issues.some((i) => i.line === 7 && /kind/.test(i.message))).toBe(true);
    expect(issues.some((i) => /"colour" is not a setting/.test(i.message))).toBe(true);
  });

  it('an unset variable, a YAML error, a duplicate name, an unreadable PEM file', async () => {
    expect(issuesOf('destinations:\n  - { kind: xds, name: dmp, url: "${DMP_URL}" }')[0]!.message).toMatch(
      /DMP_URL is not set.*default/,
    );
    expect(issuesOf('destinations: [\n')[0]!.message).toMatch(/YAML syntax/);
    const twice = issuesOf(
      'destinations:\n  - { kind: xds, name: a, url: "http://x" }\nmailboxes:\n  - { kind: imap, name: a, host: h, port: 1, secure: true, user: u, password: p }',
    );
    expect(twice[0]).toMatchObject({ line: 4, message: expect.stringMatching(/used twice/) });
    await writeFile(
      join(dir, 'bad.yaml'),
      'destinations:\n  - kind: xds\n    name: dmp\n    url: "https://x"\n    tls:\n      ca: missing.pem\n',
    );
    expect(() => loadDocumentsConfig(join(dir, 'bad.yaml'), {})).toThrow(
      /bad\.yaml:6 dmp\.tls\.ca: .*missing\.pem cannot be read/,
    );
    expect(() => loadDocumentsConfig(join(dir, 'nope.yaml'), {})).toThrow(/cannot be read.*KENEY_DOCUMENTS_CONFIG/);
  });
});
