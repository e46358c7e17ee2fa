// The documents configuration: a YAML file (KENEY_DOCUMENTS_CONFIG, e.g. documents.yaml) validated by JSON Schema at
// start — XDS.b repository identity, the ITI-41 and MSSanté destinations, the MSSanté mailboxes (IMAP, SMTP). ${VAR}
// and ${VAR:-default} are replaced from the environment (secrets stay out of the file); TLS material is given as
// PEM text or as a file path. A problem stops the start with the file, the line and the fix.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isSeq, type Document, type Node } from 'yaml';
import { substituteVariables } from '../../engine/channel-loader.js';
import type { ImapMailboxConfig } from '../mssante/imap-source.js';
import type { SmtpSourceConfig } from '../mssante/smtp.js';
import type { OutboundConfig } from './outbound.js';

export interface DocumentsConfig {
  /** This repository's uniqueId (OID). Default: one generated at the first start and kept in the database. */
  repositoryUniqueId?: string;
  homeCommunityId?: string;
  /** Our sourceId as a Document Source (OID); default: the repositoryUniqueId. */
  sourceId?: string;
  /** Named in README.TXT of the XDM packages we send. */
  senderName?: string;
  xds?: {
    authentication?: 'token' | 'none';
    maxRequestBytes?: number;
    requireKnownPatient?: boolean;
    frenchMetadataWarnings?: boolean;
    maxQueryResults?: number;
  };
  destinations?: OutboundConfig[];
  mailboxes?: MailboxConfig[];
}

export type MailboxConfig = ({ kind: 'imap' } & ImapMailboxConfig) | ({ kind: 'smtp' } & SmtpSourceConfig);

const OID = '^(0|[1-9][0-9]*)(\\.(0|[1-9][0-9]*))+$';
const oid = { type: 'string', pattern: OID, description: 'an OID, e.g. 1.2.250.1.999.1' };
const tls = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ca: { type: 'string', description: 'PEM text or a file path' },
    cert: { type: 'string', description: 'PEM text or a file path' },
    key: { type: 'string', description: 'PEM text or a file path' },
    servername: { type: 'string' },
    rejectUnauthorized: { type: 'boolean' },
    requestClientCertificate: { type: 'boolean' },
  },
};
const retry = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxAttempts: { type: 'integer', minimum: 1 },
    initialDelayMs: { type: 'integer', minimum: 1 },
    maxDelayMs: { type: 'integer', minimum: 1 },
  },
};
const name = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9-]{0,40}$',
  description: 'lower-case letters, digits and -, e.g. dmp',
};
const port = { type: 'integer', minimum: 0, maximum: 65535 };

export const DOCUMENTS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    repositoryUniqueId: oid,
    homeCommunityId: {
      type: 'string',
      pattern: '^urn:oid:' + OID.slice(1),
      description: 'urn:oid: and an OID, e.g. urn:oid:1.2.250.1.999',
    },
    sourceId: oid,
    senderName: { type: 'string' },
    xds: {
      type: 'object',
      additionalProperties: false,
      properties: {
        authentication: { enum: ['token', 'none'] },
        maxRequestBytes: { type: 'integer', minimum: 1024 },
        requireKnownPatient: { type: 'boolean' },
        frenchMetadataWarnings: { type: 'boolean' },
        maxQueryResults: { type: 'integer', minimum: 1, maximum: 100000 },
      },
    },
    destinations: {
      type: 'array',
      items: {
        type: 'object',
        required: ['kind', 'name'],
        discriminator: { propertyName: 'kind' },
        oneOf: [
          {
            additionalProperties: false,
            required: ['kind', 'name', 'url'],
            properties: {
              kind: { const: 'xds' },
              name,
              url: { type: 'string', pattern: '^https?://' },
              tls,
              headers: { type: 'object', additionalProperties: { type: 'string' } },
              timeoutMs: { type: 'integer', minimum: 1 },
              maxResponseBytes: { type: 'integer', minimum: 1024 },
              retry,
            },
          },
          {
            additionalProperties: false,
            required: ['kind', 'name', 'host', 'port', 'secure', 'from'],
            properties: {
              kind: { const: 'mssante' },
              name,
              host: { type: 'string' },
              port,
              secure: { type: 'boolean' },
              user: { type: 'string' },
              password: { type: 'string' },
              from: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$' },
              tls,
              timeoutMs: { type: 'integer', minimum: 1 },
              retry,
            },
          },
        ],
      },
    },
    mailboxes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['kind', 'name'],
        discriminator: { propertyName: 'kind' },
        oneOf: [
          {
            additionalProperties: false,
            required: ['kind', 'name', 'host', 'port', 'secure', 'user', 'password'],
            properties: {
              kind: { const: 'imap' },
              name,
              host: { type: 'string' },
              port,
              secure: { type: 'boolean' },
              user: { type: 'string' },
              password: { type: 'string' },
              tls,
              mailbox: { type: 'string' },
              processedMailbox: { type: 'string' },
              pollIntervalMs: { type: 'integer', minimum: 1000 },
              maxMessageBytes: { type: 'integer', minimum: 1024 },
              patientMailboxInsOid: oid,
            },
          },
          {
            additionalProperties: false,
            required: ['kind', 'name', 'host', 'port', 'tls'],
            properties: {
              kind: { const: 'smtp' },
              name,
              host: { type: 'string' },
              port,
              tls: { ...tls, required: ['cert', 'key'] },
              implicitTls: { type: 'boolean' },
              requireTls: { type: 'boolean' },
              acceptDomains: { type: 'array', items: { type: 'string' } },
              acceptAddresses: { type: 'array', items: { type: 'string' } },
              maxMessageBytes: { type: 'integer', minimum: 1024 },
              patientMailboxInsOid: oid,
              serverName: { type: 'string' },
            },
          },
        ],
      },
    },
  },
} as const;

export class DocumentsConfigError extends Error {
  override readonly name = 'DocumentsConfigError';
  constructor(readonly issues: { file: string; line: number; path: string; message: string }[]) {
    super(
      `The documents configuration is not valid:\n${issues.map((i) => `  ${i.file}:${i.line} ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`,
    );
  }
}

let validator: ReturnType<Ajv['compile']> | undefined;

/** Parses the YAML text of a documents configuration (throws DocumentsConfigError listing every problem). */
export function parseDocumentsConfig(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): DocumentsConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 0 : lines.linePos(offset).line);
  const issues: DocumentsConfigError['issues'] = doc.errors.map((e) => ({
    file,
    line: lineOf(e.pos[0]),
    path: '',
    message: `YAML syntax: ${e.message.split('\n')[0]}`,
  }));
  if (issues.length) throw new DocumentsConfigError(issues);
  substituteVariables(doc, env, (node, message, fix) =>
    issues.push({ file, line: lineOf(node.range?.[0]), path: '', message: `${message} ${fix}` }),
  );
  if (issues.length) throw new DocumentsConfigError(issues);
  const value = (doc.toJS() ?? {}) as DocumentsConfig;
  validator ??= new Ajv({ allErrors: true, verbose: true, discriminator: true, strict: false }).compile(
    DOCUMENTS_SCHEMA,
  );
  if (!validator(value)) {
    for (const error of validator.errors ?? [])
      issues.push({
        file,
        line: lineOf(nodeAt(doc, error.instancePath)?.range?.[0]),
        path: error.instancePath.slice(1).replace(/\//g, '.'),
        message: describe(error),
      });
    throw new DocumentsConfigError(issues);
  }
  const names = new Set<string>();
  const named = [
    ...(value.destinations ?? []).map((d, i) => ({ d, pointer: `/destinations/${i}/name` })),
    ...(value.mailboxes ?? []).map((d, i) => ({ d, pointer: `/mailboxes/${i}/name` })),
  ];
  for (const { d, pointer } of named) {
    if (names.has(d.name))
      issues.push({
        file,
        line: lineOf(nodeAt(doc, pointer)?.range?.[0]),
        path: d.name,
        message: `the name "${d.name}" is used twice: destinations and mailboxes need distinct names`,
      });
    names.add(d.name);
  }
  if (issues.length) throw new DocumentsConfigError(issues);
  return resolvePem(value, dirname(file), file, (pointer) => lineOf(nodeAt(doc, pointer)?.range?.[0]));
}

export function loadDocumentsConfig(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): DocumentsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DocumentsConfigError([
      {
        file: path,
        line: 0,
        path: '',
        message: `cannot be read (${(error as Error).message}): check KENEY_DOCUMENTS_CONFIG`,
      },
    ]);
  }
  return parseDocumentsConfig(text, path, env);
}

function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case 'required':
      return `needs "${(error.params as { missingProperty: string }).missingProperty}"`;
    case 'additionalProperties':
      return `"${(error.params as { additionalProperty: string }).additionalProperty}" is not a setting here: remove it or check its spelling`;
    case 'pattern':
      return `"${String(error.data ?? '')}" does not have the expected form (${(error.parentSchema as { description?: string } | undefined)?.description ?? (error.params as { pattern: string }).pattern})`;
    case 'enum':
      return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'discriminator':
      return `"kind" must be one of the known kinds (xds, mssante for destinations; imap, smtp for mailboxes)`;
    default:
      return error.message ?? 'is not valid';
  }
}

function nodeAt(doc: Document, pointer: string): Node | undefined {
  let node: unknown = doc.contents;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (isMap(node)) node = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key)?.value;
    else if (isSeq(node)) node = node.items[Number(key)];
    else return undefined;
  }
  return node as Node | undefined;
}

/** TLS values: PEM text stays; anything else is a file path (relative to the configuration file). */
function resolvePem(
  config: DocumentsConfig,
  base: string,
  file: string,
  lineAt: (pointer: string) => number,
): DocumentsConfig {
  const read = (value: string | undefined, where: string, pointer: string): string | undefined => {
    if (value === undefined || value.includes('-----BEGIN')) return value;
    const path = isAbsolute(value) ? value : resolve(base, value);
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new DocumentsConfigError([
        {
          file,
          line: lineAt(pointer),
          path: where,
          message: `${path} cannot be read (${(error as Error).message}): give PEM text or a readable file`,
        },
      ]);
    }
  };
  const fix = <T extends { name: string; tls?: Record<string, unknown> }>(item: T, pointer: string): T => {
    if (!item.tls) return item;
    const tls = { ...item.tls };
    for (const k of ['ca', 'cert', 'key'] as const)
      if (typeof tls[k] === 'string') tls[k] = read(tls[k] as string, `${item.name}.tls.${k}`, `${pointer}/tls/${k}`);
    return { ...item, tls };
  };
  return {
    ...config,
    ...(config.destinations ? { destinations: config.destinations.map((d, i) => fix(d, `/destinations/${i}`)) } : {}),
    ...(config.mailboxes
      ? {
          mailboxes: config.mailboxes.map((m, i) =>
            fix(m as MailboxConfig & { tls?: Record<string, unknown> }, `/mailboxes/${i}`),
          ) as MailboxConfig[],
        }
      : {}),
  };
}
