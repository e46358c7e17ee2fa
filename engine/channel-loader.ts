// Loads channel files: YAML (positions kept) → ${VAR} substitution → JSON Schema (channels/channel.schema.json)
// → defaults → cross checks. Every problem becomes a ChannelConfigIssue naming the file, the line, the column
// and the fix; all of a file's problems are reported at once.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
  type Scalar,
} from 'yaml';
import {
  DEFAULT_RETRY,
  type ChannelConfig,
  type DestinationConfig,
  type FilterConfig,
  type LoadedChannel,
  type RetryConfig,
  type SourceConfig,
} from './channel-config.js';
import { channelConfigError, EngineError, type ChannelConfigIssue } from './errors.js';

export const CHANNEL_FILE_SUFFIX = '.channel.yaml';
export const CHANNEL_SCHEMA_PATH = new URL('../channels/channel.schema.json', import.meta.url);

type JsonSchema = Record<string, unknown>;
const SCHEMA = JSON.parse(readFileSync(CHANNEL_SCHEMA_PATH, 'utf8')) as JsonSchema;

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(value: unknown): ErrorObject[] {
  validator ??= new Ajv({ allErrors: true, verbose: true, discriminator: true, strict: false }).compile(SCHEMA);
  return validator(value) ? [] : [...(validator.errors ?? [])];
}

/** What the loader checks references against (the mapper and encoder registries). */
export interface ChannelReferenceCheck {
  mappings?: { has(id: string): boolean; ids(): string[] };
  encoders?: { has(id: string): boolean; ids(): string[] };
}

export interface ParseChannelOptions extends ChannelReferenceCheck {
  /** Variables for ${VAR} (normally process.env). */
  env: Readonly<Record<string, string | undefined>>;
}

/** Parses one channel file's text; throws an EngineError (engine.channel-config) listing every problem. */
export function parseChannel(text: string, file: string, options: ParseChannelOptions): LoadedChannel {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const issues: ChannelConfigIssue[] = [];
  const at = (offset: number | undefined) => {
    if (offset === undefined) return { line: 0, column: 0 };
    const pos = lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  for (const error of doc.errors) {
    issues.push({
      file,
      ...at(error.pos[0]),
      path: '',
      message: `YAML syntax: ${firstLine(error.message)}.`,
      fix: yamlFix(error.code),
    });
  }
  if (issues.length > 0) throw channelConfigError(issues);

  substituteVariables(doc, options.env, (node, message, fix) =>
    issues.push({ file, ...at(node.range?.[0]), path: pathOfNode(doc, node), message, fix }),
  );
  const unresolved = new Set(issues.map((i) => i.path));
  const value: unknown = doc.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    issues.push({
      file,
      line: 1,
      column: 1,
      path: '',
      message: 'A channel file must be a YAML mapping (key: value lines).',
      fix: 'Start from channels/default-inbound.channel.yaml: it has source, mapping and destinations.',
    });
    throw channelConfigError(issues);
  }
  for (const error of validate(value)) {
    const issue = schemaIssue(error, doc, file, at);
    if (!unresolved.has(issue.path)) issues.push(issue);
  }
  if (issues.length > 0) throw channelConfigError(dedupe(issues));

  const config = withDefaults(value as RawChannel, file);
  issues.push(...crossCheck(config, doc, file, at, options));
  if (issues.length > 0) throw channelConfigError(issues);
  return { config, file, digest: createHash('sha256').update(JSON.stringify(config)).digest('hex') };
}

export async function loadChannelFile(
  path: string,
  options: ParseChannelOptions & { displayRoot?: string },
): Promise<LoadedChannel> {
  const file = options.displayRoot ? relative(options.displayRoot, path) || basename(path) : path;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw channelConfigError([
      {
        file,
        line: 0,
        column: 0,
        path: '',
        message: `Cannot read the file (${code ?? (error as Error).message}).`,
        fix: 'Check the path and that the hub may read it.',
      },
    ]);
  }
  return parseChannel(text, file, options);
}

export interface ChannelDirectoryLoad {
  loaded: LoadedChannel[];
  failed: { file: string; id: string; error: EngineError }[];
}

/** Loads every `*.channel.yaml` of a directory; a bad file does not stop the others. */
export async function loadChannelDirectory(
  directory: string,
  options: ParseChannelOptions & { displayRoot?: string },
): Promise<ChannelDirectoryLoad> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((n) => n.endsWith(CHANNEL_FILE_SUFFIX)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { loaded: [], failed: [] };
    throw error;
  }
  const result: ChannelDirectoryLoad = { loaded: [], failed: [] };
  for (const name of names) {
    try {
      result.loaded.push(await loadChannelFile(join(directory, name), options));
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      result.failed.push({ file: name, id: name.slice(0, -CHANNEL_FILE_SUFFIX.length), error });
    }
  }
  // Across files: one id per channel, one listener per port.
  const byId = new Map<string, LoadedChannel>();
  const byPort = new Map<string, LoadedChannel>();
  for (const channel of [...result.loaded]) {
    const problems: ChannelConfigIssue[] = [];
    const other = byId.get(channel.config.id);
    if (other) {
      problems.push({
        file: channel.file,
        line: 1,
        column: 1,
        path: 'id',
        message: `The id "${channel.config.id}" is already used by ${other.file}.`,
        fix: 'Give each channel its own id (the file name is the default id).',
      });
    }
    const source = channel.config.source;
    if ((source.type === 'mllp' || source.type === 'http') && source.port !== 0) {
      const key = `${source.port}`;
      const clash = byPort.get(key);
      if (clash) {
        problems.push({
          file: channel.file,
          line: 0,
          column: 0,
          path: 'source.port',
          message: `Port ${source.port} is already the listener of channel "${clash.config.id}" (${clash.file}).`,
          fix: 'Choose another port for one of the two channels (each listener needs its own port).',
        });
      } else byPort.set(key, channel);
    }
    if (problems.length > 0) {
      result.loaded.splice(result.loaded.indexOf(channel), 1);
      result.failed.push({ file: channel.file, id: channel.config.id, error: channelConfigError(problems) });
    } else byId.set(channel.config.id, channel);
  }
  return result;
}

// ---- ${VAR} substitution ----

const VARIABLE = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Replaces ${VAR} and ${VAR:-default} in string scalars; `$${` writes a literal `${`. */
export function substituteVariables(
  doc: Document,
  env: Readonly<Record<string, string | undefined>>,
  report: (node: Node, message: string, fix: string) => void,
): void {
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      const original = node.value;
      let whole = false;
      let failed = false;
      const replaced = original.replace(VARIABLE, (match, inner: string | undefined, offset: number) => {
        if (match === '$${') return '${';
        const [name = '', ...rest] = (inner ?? '').split(':-');
        const fallback = rest.length > 0 ? rest.join(':-') : undefined;
        if (!NAME.test(name)) {
          failed = true;
          report(
            node,
            `"${match}" is not a valid variable reference.`,
            'Write ${NAME} or ${NAME:-default} with a name of letters, digits and _ (write $${ for a literal ${).',
          );
          return match;
        }
        const value = env[name];
        if (value !== undefined && value !== '') {
          whole = match.length === original.length && offset === 0;
          return value;
        }
        if (fallback !== undefined) {
          whole = match.length === original.length && offset === 0;
          return fallback;
        }
        failed = true;
        report(
          node,
          `The environment variable ${name} is not set.`,
          `Set ${name} in the hub's environment, or give a default: \${${name}:-value}.`,
        );
        return match;
      });
      if (failed || replaced === original) return;
      node.value = whole && node.type === 'PLAIN' ? plainScalar(replaced) : replaced;
    },
  });
}

/** A substituted plain scalar keeps YAML's typing: `${PORT:-2575}` is the number 2575. */
function plainScalar(text: string): string | number | boolean {
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(text)) return Number(text);
  if (text === 'true') return true;
  if (text === 'false') return false;
  return text;
}

// ---- schema errors → issues ----

function schemaIssue(
  error: ErrorObject,
  doc: Document,
  file: string,
  at: (o: number | undefined) => { line: number; column: number },
): ChannelConfigIssue {
  const segments = pointerSegments(error.instancePath);
  const path = displayPath(segments);
  const node = nodeAt(doc, segments);
  const where = (n: Node | undefined) => at(n?.range?.[0] ?? node?.range?.[0]);
  const parent = error.parentSchema as JsonSchema | undefined;
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      const example = exampleOf(propertySchema(parent, missing));
      return {
        file,
        ...where(node),
        path,
        message: `needs "${missing}".`,
        fix: `Add \`${missing}: ${example ?? '…'}\`${path ? ` under ${path}` : ''}.${describe(propertySchema(parent, missing))}`,
      };
    }
    case 'additionalProperties': {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((parent?.properties as JsonSchema | undefined) ?? {});
      const close = closest(extra, allowed);
      const keyNode = isMap(node) ? node.items.find((p) => isScalar(p.key) && p.key.value === extra)?.key : undefined;
      return {
        file,
        ...where(keyNode as Node | undefined),
        path: path ? `${path}.${extra}` : extra,
        message: `"${extra}" is not a setting of ${path || 'a channel'}.`,
        fix: close
          ? `Did you mean "${close}"? The settings here are: ${allowed.join(', ')}.`
          : `Remove it; the settings here are: ${allowed.join(', ')}.`,
      };
    }
    case 'type': {
      const expected = (error.params as { type: string }).type;
      return {
        file,
        ...where(node),
        path,
        message: `must be ${article(expected)} ${expected}, not ${describeValue(error.data)}.`,
        fix: `Write ${article(expected)} ${expected}${exampleText(parent)}.${describe(parent)}`,
      };
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      const close = typeof error.data === 'string' ? closest(error.data, allowed.map(String)) : undefined;
      return {
        file,
        ...where(node),
        path,
        message: `is ${describeValue(error.data)}, which is not one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}.`,
        fix: close ? `Did you mean "${close}"?` : `Use one of ${allowed.map(String).join(', ')}.`,
      };
    }
    case 'const': {
      const allowed = (error.params as { allowedValue: unknown }).allowedValue;
      return {
        file,
        ...where(node),
        path,
        message: `must be ${JSON.stringify(allowed)}.`,
        fix: `Write ${String(allowed)}.`,
      };
    }
    case 'discriminator': {
      const params = error.params as { error: string; tag: string; tagValue: unknown };
      const allowed = discriminatorValues(parent);
      const close = typeof params.tagValue === 'string' ? closest(params.tagValue, allowed) : undefined;
      const tagNode = isMap(node) ? (node.get(params.tag, true) as Node | undefined) : undefined;
      return {
        file,
        ...where(tagNode),
        path: path ? `${path}.${params.tag}` : params.tag,
        message:
          params.error === 'tag' && params.tagValue === undefined
            ? `needs a "${params.tag}".`
            : `${describeValue(params.tagValue)} is not a known type here.`,
        fix:
          close && close !== params.tagValue
            ? `Did you mean "${close}"? The types are: ${allowed.join(', ')}.`
            : `Use one of: ${allowed.join(', ')}.`,
      };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const { comparison, limit } = error.params as { comparison: string; limit: number };
      return {
        file,
        ...where(node),
        path,
        message: `is ${describeValue(error.data)}; it must be ${comparison} ${limit}.`,
        fix: `Write a number ${comparison} ${limit}${exampleText(parent)}.`,
      };
    }
    case 'minItems':
      return {
        file,
        ...where(node),
        path,
        message: `must list at least ${(error.params as { limit: number }).limit} item(s).`,
        fix: `Add an item${exampleText(parent)}.`,
      };
    case 'pattern':
    case 'maxLength':
    case 'minLength':
      return {
        file,
        ...where(node),
        path,
        message: `${describeValue(error.data)} is not valid${error.keyword === 'pattern' ? '' : ` (${error.message ?? ''})`}.`,
        fix: `${(parent?.description as string | undefined) ?? 'Check the value.'}${exampleText(parent)}`.trim(),
      };
    default:
      return {
        file,
        ...where(node),
        path,
        message: `${error.message ?? 'is not valid'}.`,
        fix: `See channels/channel.schema.json for ${path || 'the channel format'}.`,
      };
  }
}

function dedupe(issues: ChannelConfigIssue[]): ChannelConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.line}:${i.column}:${i.path}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function pointerSegments(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function displayPath(segments: (string | number)[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out ? `.${s}` : s;
  return out;
}

function nodeAt(doc: Document, segments: (string | number)[]): Node | undefined {
  if (segments.length === 0) return doc.contents ?? undefined;
  const found = doc.getIn(segments, true);
  return (found as Node | undefined) ?? nodeAt(doc, segments.slice(0, -1));
}

function pathOfNode(doc: Document, target: Node): string {
  let found = '';
  const walk = (node: unknown, path: (string | number)[]): boolean => {
    if (node === target) {
      found = displayPath(path);
      return true;
    }
    if (isMap(node))
      return node.items.some(
        (p) => isPair(p) && walk(p.value, [...path, String((p.key as Scalar | undefined)?.value ?? '')]),
      );
    if (isSeq(node)) return node.items.some((item, i) => walk(item, [...path, i]));
    return false;
  };
  walk(doc.contents, []);
  return found;
}

function resolveRef(schema: JsonSchema | undefined): JsonSchema | undefined {
  const ref = schema?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/definitions/')) return schema;
  return (SCHEMA.definitions as Record<string, JsonSchema>)[ref.slice('#/definitions/'.length)];
}

function propertySchema(parent: JsonSchema | undefined, name: string): JsonSchema | undefined {
  return resolveRef((parent?.properties as Record<string, JsonSchema> | undefined)?.[name]);
}

function exampleOf(schema: JsonSchema | undefined): string | undefined {
  const resolved = resolveRef(schema);
  const examples = resolved?.examples as unknown[] | undefined;
  if (!examples?.length) return undefined;
  const example = examples[0];
  return typeof example === 'string' ? example : JSON.stringify(example);
}

function exampleText(schema: JsonSchema | undefined): string {
  const example = exampleOf(schema);
  return example ? `, e.g. ${example}` : '';
}

function describe(schema: JsonSchema | undefined): string {
  const description = resolveRef(schema)?.description;
  return typeof description === 'string' ? ` (${description.replace(/\.$/, '')})` : '';
}

function discriminatorValues(parent: JsonSchema | undefined): string[] {
  const branches = (parent?.oneOf as JsonSchema[] | undefined) ?? [];
  return branches
    .map(
      (b) =>
        ((resolveRef(b)?.properties as Record<string, JsonSchema> | undefined)?.type?.const as string | undefined) ??
        '',
    )
    .filter(Boolean);
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function firstLine(text: string): string {
  return text
    .split('\n')[0]!
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/\.$/, '');
}

function yamlFix(code: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'Remove or rename one of the two keys: each key may appear once in a mapping.';
    case 'TAB_AS_INDENT':
      return 'Indent with spaces: YAML does not allow tabs for indentation.';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'Check the indentation and the closing bracket or quote on this line.';
    case 'MULTIPLE_DOCS':
      return 'Keep one channel per file: remove the `---` separator and the second document.';
    default:
      return 'Check the YAML syntax on this line (indentation with spaces, `key: value`, quotes closed).';
  }
}

/** The candidate closest to `word` (edit distance ≤ 2, or a prefix), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (
    best !== undefined &&
    (bestDistance <= Math.max(1, Math.min(2, Math.floor(word.length / 3))) ||
      best.toLowerCase().startsWith(word.toLowerCase()))
  )
    return best;
  return undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions cost 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

// ---- defaults and cross checks ----

interface RawChannel {
  id?: string;
  name?: string;
  description?: string;
  enabled?: boolean;
  format?: 'hl7v2';
  source: Record<string, unknown> & { type: SourceConfig['type'] };
  filters?: FilterConfig[];
  mapping?: string;
  encoder?: string;
  quality?: boolean;
  destinations: (Record<string, unknown> & { type: DestinationConfig['type']; name?: string })[];
  alerts?: ChannelConfig['alerts'];
}

function idFromFile(file: string): string {
  const name = basename(file);
  return name.endsWith(CHANNEL_FILE_SUFFIX) ? name.slice(0, -CHANNEL_FILE_SUFFIX.length) : name.replace(/\.ya?ml$/, '');
}

function withDefaults(raw: RawChannel, file: string): ChannelConfig {
  const id = raw.id ?? idFromFile(file);
  const retry = (r: Partial<RetryConfig> | undefined): RetryConfig => ({ ...DEFAULT_RETRY, ...r });
  const source = ((): SourceConfig => {
    const s = raw.source;
    switch (s.type) {
      case 'mllp':
        return { host: '0.0.0.0', ...s } as SourceConfig;
      case 'http':
        return { host: '0.0.0.0', path: '/', ...s } as SourceConfig;
      case 'file':
        return { pattern: '*', pollIntervalMs: 1000, ...s } as SourceConfig;
      case 'subscription':
        return { ...s } as unknown as SourceConfig;
      default:
        return s.type satisfies never;
    }
  })();
  const destinations = raw.destinations.map((d): DestinationConfig => {
    const name = d.name ?? d.type;
    switch (d.type) {
      case 'store':
        return { type: 'store', name };
      case 'mllp':
        return { content: 'raw', ...d, name, retry: retry(d.retry as Partial<RetryConfig>) } as DestinationConfig;
      case 'file':
        return {
          content: 'raw',
          fileName: '{channel}-{receivedAt}-{messageId}.{ext}',
          ...d,
          name,
          retry: retry(d.retry as Partial<RetryConfig>),
        } as DestinationConfig;
      case 'http':
        return {
          content: 'raw',
          headers: {},
          ...d,
          name,
          retry: retry(d.retry as Partial<RetryConfig>),
        } as DestinationConfig;
      case 'kafka':
        return { content: 'bundle', ...d, name, retry: retry(d.retry as Partial<RetryConfig>) } as DestinationConfig;
      case 'fhir':
        return { ...d, name, retry: retry(d.retry as Partial<RetryConfig>) } as DestinationConfig;
      default:
        return d.type satisfies never;
    }
  });
  return {
    id,
    name: raw.name ?? id,
    ...(raw.description ? { description: raw.description } : {}),
    enabled: raw.enabled ?? true,
    format: raw.format ?? 'hl7v2',
    source,
    filters: raw.filters ?? [],
    ...(raw.mapping ? { mapping: raw.mapping } : {}),
    ...(raw.encoder ? { encoder: raw.encoder } : {}),
    quality: raw.quality ?? raw.mapping !== undefined,
    destinations,
    alerts: raw.alerts ?? {},
  };
}

function crossCheck(
  config: ChannelConfig,
  doc: Document,
  file: string,
  at: (o: number | undefined) => { line: number; column: number },
  options: ChannelReferenceCheck,
): ChannelConfigIssue[] {
  const issues: ChannelConfigIssue[] = [];
  const pos = (segments: (string | number)[]) => at(nodeAt(doc, segments)?.range?.[0]);
  const fileId = idFromFile(file);
  if (config.id !== fileId && basename(file).endsWith(CHANNEL_FILE_SUFFIX)) {
    issues.push({
      file,
      ...pos(['id']),
      path: 'id',
      message: `The id "${config.id}" differs from the file name (${fileId}${CHANNEL_FILE_SUFFIX}).`,
      fix: `Rename the file to ${config.id}${CHANNEL_FILE_SUFFIX}, or remove the id line.`,
    });
  }
  const names = new Map<string, number>();
  config.destinations.forEach((d, i) => {
    const first = names.get(d.name);
    if (first !== undefined) {
      issues.push({
        file,
        ...pos(['destinations', i]),
        path: `destinations[${i}].name`,
        message: `Two destinations are called "${d.name}" (destinations[${first}] and destinations[${i}]).`,
        fix: 'Give each destination its own `name:` (its queue and its status are kept under that name).',
      });
    } else names.set(d.name, i);
  });
  const stores = config.destinations.filter((d) => d.type === 'store').length;
  if (stores > 1)
    issues.push({
      file,
      ...pos(['destinations']),
      path: 'destinations',
      message: 'The store is listed more than once.',
      fix: 'Keep one `- type: store` destination.',
    });
  if (config.source.type === 'subscription') {
    if (!config.encoder) {
      issues.push({
        file,
        ...pos(['source']),
        path: 'encoder',
        message: 'An outbound channel (source type subscription) needs an encoder.',
        fix: 'Add `encoder: hl7v2/orm` (or another encoder id) at the top level.',
      });
    }
    if (stores > 0)
      issues.push({
        file,
        ...pos(['destinations']),
        path: 'destinations',
        message: 'An outbound channel cannot write back to the store it reads from.',
        fix: 'Remove the `type: store` destination.',
      });
    if (config.mapping)
      issues.push({
        file,
        ...pos(['mapping']),
        path: 'mapping',
        message: 'An outbound channel has an encoder, not a mapping.',
        fix: 'Remove `mapping:`; use `encoder:`.',
      });
  } else {
    if (config.encoder)
      issues.push({
        file,
        ...pos(['encoder']),
        path: 'encoder',
        message: 'Only outbound channels (source type subscription) have an encoder.',
        fix: 'Remove `encoder:`.',
      });
    if (stores > 0 && !config.mapping) {
      issues.push({
        file,
        ...pos(['destinations']),
        path: 'mapping',
        message: 'The store destination needs a mapping (message → FHIR).',
        fix: 'Add `mapping: hl7v2/default` (or another mapping id) at the top level.',
      });
    }
  }
  if (config.mapping && options.mappings && !options.mappings.has(config.mapping)) {
    const close = closest(config.mapping, options.mappings.ids());
    const known = options.mappings.ids();
    issues.push({
      file,
      ...pos(['mapping']),
      path: 'mapping',
      message: `There is no mapping "${config.mapping}".`,
      fix: close
        ? `Did you mean "${close}"?`
        : known.length > 0
          ? `Use one of: ${known.join(', ')}.`
          : 'No mapping is installed: check that mappings/index.ts exists.',
    });
  }
  if (config.encoder && options.encoders && !options.encoders.has(config.encoder)) {
    const close = closest(config.encoder, options.encoders.ids());
    const known = options.encoders.ids();
    issues.push({
      file,
      ...pos(['encoder']),
      path: 'encoder',
      message: `There is no encoder "${config.encoder}".`,
      fix: close
        ? `Did you mean "${close}"?`
        : known.length > 0
          ? `Use one of: ${known.join(', ')}.`
          : 'No encoder is installed.',
    });
  }
  const checkFilters = (filters: FilterConfig[], path: (string | number)[]) =>
    filters.forEach((f, i) => {
      const here = [...path, i];
      const keys = Object.keys(f).filter((k) => k !== 'not');
      if ('anyOf' in f && f.anyOf) {
        if (keys.length > 1)
          issues.push({
            file,
            ...pos(here),
            path: displayPath(here),
            message: 'A filter with anyOf cannot also test a field.',
            fix: 'Move the field test into the anyOf list.',
          });
        checkFilters(f.anyOf, [...here, 'anyOf']);
        return;
      }
      if (!('field' in f)) {
        issues.push({
          file,
          ...pos(here),
          path: displayPath(here),
          message: 'A filter needs a field (or anyOf).',
          fix: 'Write e.g. `- field: MSH-9.1` with `in: [ADT, ORU]`.',
        });
        return;
      }
      const tests = ['equals', 'in', 'matches', 'exists'].filter((k) => k in f);
      if (tests.length !== 1) {
        issues.push({
          file,
          ...pos(here),
          path: displayPath(here),
          message:
            tests.length === 0
              ? `The filter on ${f.field} has no test.`
              : `The filter on ${f.field} has several tests (${tests.join(', ')}).`,
          fix: 'Give exactly one of equals, in, matches or exists (use anyOf or several filters to combine).',
        });
      }
      if (f.matches !== undefined) {
        try {
          new RegExp(f.matches, 'u');
        } catch (error) {
          issues.push({
            file,
            ...pos([...here, 'matches']),
            path: `${displayPath(here)}.matches`,
            message: `The regular expression is invalid: ${(error as Error).message}.`,
            fix: 'Fix the expression (JavaScript syntax, u flag), or use equals/in.',
          });
        }
      }
    });
  checkFilters(config.filters, ['filters']);
  return issues;
}
