// DICOM channel files: `channels/dicom/<id>.channel.yaml` (KENEY_DICOM_CHANNELS_DIR), validated by
// dicom-channel.schema.json, with the same conventions as the HL7 v2 channels: ${VAR} substitution, every
// problem reported at once with the file, the line and the fix, filters and retry written the same way.
// Without any file, one built-in channel `dicom` sends every instance to the record.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { DEFAULT_RETRY, isFieldFilter, type FilterConfig } from '../../../engine/channel-config.js';
import { closest, substituteVariables } from '../../../engine/channel-loader.js';
import { channelConfigError, EngineError, type ChannelConfigIssue } from '../../../engine/errors.js';
import type { DicomDestination } from './destinations.js';
import { checkFilterField } from './filters.js';

export const DICOM_CHANNEL_SUFFIX = '.channel.yaml';
const SCHEMA = JSON.parse(readFileSync(new URL('./dicom-channel.schema.json', import.meta.url), 'utf8')) as Record<
  string,
  unknown
>;

export interface StoreDestination {
  type: 'store';
  name: string;
}

export type DicomChannelDestination = StoreDestination | DicomDestination;

export interface DicomChannelConfig {
  id: string;
  name: string;
  description?: string;
  enabled: boolean;
  source: { type: 'dicom' };
  filters: FilterConfig[];
  destinations: DicomChannelDestination[];
}

export interface LoadedDicomChannel {
  config: DicomChannelConfig;
  /** The file it came from (absent for the built-in channel). */
  file?: string;
}

/** The channel used when no file is configured: every instance into the record. */
export const DEFAULT_DICOM_CHANNEL: DicomChannelConfig = {
  id: 'dicom',
  name: 'DICOM into the record',
  description:
    'Built in (no file in channels/dicom/): every instance received by DIMSE or STOW-RS becomes part of the canonical record.',
  enabled: true,
  source: { type: 'dicom' },
  filters: [],
  destinations: [{ type: 'store', name: 'store' }],
};

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(value: unknown): ErrorObject[] {
  validator ??= new Ajv({ allErrors: true, verbose: true, discriminator: true, strict: false }).compile(SCHEMA);
  return validator(value) ? [] : [...(validator.errors ?? [])];
}

function nodeAt(doc: Document, segments: string[]): Node | undefined {
  for (let n = segments.length; n >= 0; n--) {
    const node = doc.getIn(
      segments.slice(0, n).map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
      true,
    ) as Node | undefined;
    if (node && typeof node === 'object') return node;
  }
  return undefined;
}

function displayPath(segments: string[]): string {
  return segments.reduce((out, s) => (/^\d+$/.test(s) ? `${out}[${s}]` : out ? `${out}.${s}` : s), '');
}

/** Parses one DICOM channel file; throws an EngineError listing every problem. */
export function parseDicomChannel(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): LoadedDicomChannel {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const issues: ChannelConfigIssue[] = [];
  const at = (node: Node | undefined) => {
    const offset = node?.range?.[0];
    if (offset === undefined) return { line: 0, column: 0 };
    const pos = lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  for (const error of doc.errors) {
    const pos = lines.linePos(error.pos[0]);
    issues.push({
      file,
      line: pos.line,
      column: pos.col,
      path: '',
      message: `YAML syntax: ${error.message.split('\n')[0]}.`,
      fix: 'Fix the YAML (indentation with spaces, a colon after each key, quotes around values with ": ").',
    });
  }
  if (issues.length > 0) throw channelConfigError(issues);
  substituteVariables(doc, env, (node, message, fix) => issues.push({ file, ...at(node), path: '', message, fix }));
  const value: unknown = doc.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw channelConfigError([
      ...issues,
      {
        file,
        line: 1,
        column: 1,
        path: '',
        message: 'A DICOM channel file must be a YAML mapping.',
        fix: 'Start from the example in connectors/dicom/README.md (source, filters, destinations).',
      },
    ]);
  }
  for (const error of validate(value)) {
    // oneOf summaries repeat what the branch errors say.
    if (error.keyword === 'oneOf' || error.keyword === 'if') continue;
    const segments = error.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    // Point at the key itself when the problem is a key (a misspelt setting, a wrong type).
    const key =
      error.keyword === 'additionalProperties'
        ? (error.params as { additionalProperty: string }).additionalProperty
        : error.keyword === 'discriminator'
          ? 'type'
          : undefined;
    const where = key !== undefined ? [...segments, key] : segments;
    const node = nodeAt(doc, where);
    issues.push({ file, ...at(node), path: displayPath(where), ...describeSchemaError(error, displayPath(segments)) });
  }
  const checkFilter = (filter: FilterConfig, path: string[]) => {
    if (!isFieldFilter(filter)) {
      filter.anyOf.forEach((f, i) => {
        if (f && typeof f === 'object') checkFilter(f, [...path, 'anyOf', String(i)]);
      });
      return;
    }
    if (typeof filter.field !== 'string') return;
    const problem = checkFilterField(filter.field);
    if (problem)
      issues.push({
        file,
        ...at(nodeAt(doc, [...path, 'field'])),
        path: displayPath([...path, 'field']),
        message: problem,
        fix: 'Use a DICOM keyword such as Modality, or CallingAETitle.',
      });
    if (typeof filter.matches === 'string') {
      try {
        new RegExp(filter.matches, 'u');
      } catch (error) {
        issues.push({
          file,
          ...at(nodeAt(doc, [...path, 'matches'])),
          path: displayPath([...path, 'matches']),
          message: `is not a valid regular expression (${(error as Error).message}).`,
          fix: 'Write a JavaScript regular expression, e.g. "^CT_".',
        });
      }
    }
  };
  const rawFilters = (value as { filters?: unknown }).filters;
  if (Array.isArray(rawFilters)) {
    rawFilters.forEach((f: unknown, i) => {
      if (
        f &&
        typeof f === 'object' &&
        (typeof (f as { field?: unknown }).field === 'string' || Array.isArray((f as { anyOf?: unknown }).anyOf))
      )
        checkFilter(f as FilterConfig, ['filters', String(i)]);
    });
  }
  if (issues.length > 0) throw channelConfigError(dedupe(issues));

  const raw = value as Partial<DicomChannelConfig> & { destinations: Array<Record<string, unknown>> };
  const id = raw.id ?? basename(file).replace(/\.channel\.yaml$/, '');
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) {
    issues.push({
      file,
      line: 0,
      column: 0,
      path: 'id',
      message: `The file name gives the id "${id}", which is not valid.`,
      fix: 'Rename the file (lower-case letters, digits, dashes) or set id: in it.',
    });
  }
  const names = new Map<string, number>();
  const destinations = raw.destinations.map((d, i) => {
    const name = (d.name as string | undefined) ?? (d.type === 'store' ? 'store' : `destination-${i + 1}`);
    const previous = names.get(name);
    if (previous !== undefined) {
      issues.push({
        file,
        ...at(nodeAt(doc, ['destinations', String(i)])),
        path: `destinations[${i}].name`,
        message: `The name "${name}" is already destinations[${previous}]'s.`,
        fix: 'Give each destination its own name (it names its queue).',
      });
    }
    names.set(name, i);
    return d.type === 'store'
      ? { type: 'store' as const, name }
      : ({ ...d, name, retry: { ...DEFAULT_RETRY, ...(d.retry as object | undefined) } } as DicomDestination);
  });
  if (issues.length > 0) throw channelConfigError(issues);
  return {
    file,
    config: {
      id,
      name: raw.name ?? id,
      ...(raw.description ? { description: raw.description } : {}),
      enabled: raw.enabled ?? true,
      source: { type: 'dicom' },
      filters: raw.filters ?? [],
      destinations,
    },
  };
}

function describeSchemaError(error: ErrorObject, path: string): { message: string; fix: string } {
  const params = error.params as Record<string, unknown>;
  const schema = error.parentSchema as
    { properties?: Record<string, { examples?: unknown[] }>; examples?: unknown[]; description?: string } | undefined;
  switch (error.keyword) {
    case 'required': {
      const missing = params.missingProperty as string;
      const example = schema?.properties?.[missing]?.examples?.[0];
      return {
        message: `needs "${missing}".`,
        fix: `Add \`${missing}: ${example !== undefined ? JSON.stringify(example) : '…'}\`${path ? ` under ${path}` : ''}.`,
      };
    }
    case 'additionalProperties': {
      const extra = params.additionalProperty as string;
      const allowed = Object.keys(schema?.properties ?? {});
      const near = closest(extra, allowed);
      return {
        message: `"${extra}" is not a setting of ${path || 'a DICOM channel'}.`,
        fix: near
          ? `Did you mean "${near}"? The settings here are: ${allowed.join(', ')}.`
          : `Remove it; the settings here are: ${allowed.join(', ')}.`,
      };
    }
    case 'enum':
    case 'const': {
      const allowed = (params.allowedValues as unknown[] | undefined) ?? [params.allowedValue];
      return {
        message: `must be ${allowed.map((a) => JSON.stringify(a)).join(' or ')}, not ${JSON.stringify(error.data ?? null)}.`,
        fix: `Write one of: ${allowed.map((a) => String(a)).join(', ')}.`,
      };
    }
    case 'discriminator': {
      const kinds = ['store', 'dicom', 'dicomweb'];
      const value = (error.params as { tagValue?: unknown }).tagValue;
      const near = typeof value === 'string' ? closest(value, kinds) : undefined;
      return {
        message: `must be one of ${kinds.join(', ')}, not ${JSON.stringify(value ?? null)}.`,
        fix: `${near ? `Did you mean "${near}"? ` : ''}store: the record; dicom: C-STORE to another AE; dicomweb: STOW-RS to a DICOMweb server.`,
      };
    }
    case 'type':
      return {
        message: `must be ${params.type as string}.`,
        fix: `Write ${params.type as string}${schema?.examples ? `, e.g. ${JSON.stringify(schema.examples[0])}` : ''}.`,
      };
    default:
      return {
        message: `${error.message ?? 'is not valid'}.`,
        fix: schema?.description ? `${schema.description}` : 'See connectors/dicom/dicom-channel.schema.json.',
      };
  }
}

function dedupe(issues: ChannelConfigIssue[]): ChannelConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.line}:${i.path}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface DicomChannelsLoad {
  loaded: LoadedDicomChannel[];
  failed: { file: string; error: EngineError }[];
}

/** Loads every `*.channel.yaml` of the directory (absent directory: none); a bad file does not stop the others. */
export async function loadDicomChannels(
  directory: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<DicomChannelsLoad> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((n) => n.endsWith(DICOM_CHANNEL_SUFFIX)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { loaded: [], failed: [] };
    throw error;
  }
  const result: DicomChannelsLoad = { loaded: [], failed: [] };
  const ids = new Map<string, string>();
  for (const name of names) {
    const file = join(directory, name);
    try {
      const loaded = parseDicomChannel(await readFile(file, 'utf8'), file, env);
      const other = ids.get(loaded.config.id);
      if (other) {
        throw channelConfigError([
          {
            file,
            line: 1,
            column: 1,
            path: 'id',
            message: `The id "${loaded.config.id}" is already used by ${other}.`,
            fix: 'Give each channel its own id.',
          },
        ]);
      }
      ids.set(loaded.config.id, file);
      result.loaded.push(loaded);
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      result.failed.push({ file, error });
    }
  }
  return result;
}

/**
 * Moves to `failed` the DICOM channels whose id an HL7 v2 channel of the same hub already has: both kinds
 * share the message store, the statistics and the destination locks, all keyed by channel id.
 */
export function refuseTakenIds(load: DicomChannelsLoad, takenIds: readonly string[]): DicomChannelsLoad {
  const taken = new Set(takenIds);
  const result: DicomChannelsLoad = { loaded: [], failed: [...load.failed] };
  for (const loaded of load.loaded) {
    if (!taken.has(loaded.config.id)) {
      result.loaded.push(loaded);
      continue;
    }
    const file = loaded.file ?? loaded.config.id;
    result.failed.push({
      file,
      error: channelConfigError([
        {
          file,
          line: 1,
          column: 1,
          path: 'id',
          message: `The id "${loaded.config.id}" is already an HL7 v2 channel's: the two would share their messages and statistics.`,
          fix: 'Give this DICOM channel its own id (id: …, or rename the file).',
        },
      ]),
    });
  }
  return result;
}

/** A stable digest of a channel's settings (what a reload compares). */
export function channelDigest(config: DicomChannelConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex');
}
