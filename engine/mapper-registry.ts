// The engine's view of mappings/: a registry of mappers (message → FHIR transaction Bundle), the quality
// checker, and the encoders of outbound channels (FHIR resource → message). The real registry comes from
// mappings/index.ts (`createMapperRegistry()`); tests pass their own.
import { existsSync } from 'node:fs';
import type { Resource } from '@medplum/fhirtypes';
import type { Hl7Message } from '../adapters/hl7v2/index.js';
import type { Mapper, MappingIssue, QualityChecker } from '../mappings/mapper.js';

/** Outbound channels: one FHIR resource (just applied to the store) → one message to send. */
export interface Encoder {
  id: string;
  encode(resource: Resource, context: EncodeContext): EncodeResult | Promise<EncodeResult>;
}

export interface EncodeContext {
  channelId: string;
  /** The change set that produced this version of the resource. */
  changeSetId: string;
  /** ISO-8601: the only "now" an encoder may use. */
  at: string;
}

export interface EncodeResult {
  /** The message to send (absent when an error issue says why not). */
  message?: Hl7Message | Buffer | string;
  issues: MappingIssue[];
}

export interface MapperRegistry {
  get(id: string): Mapper<Hl7Message> | undefined;
  ids(): string[];
  quality?: QualityChecker;
  encoder?(id: string): Encoder | undefined;
  encoderIds?(): string[];
}

/** A registry over a fixed set of mappers (tests, `keney channel test` with a custom registry). */
export function staticRegistry(
  mappers: Mapper<Hl7Message>[],
  extra: { quality?: QualityChecker; encoders?: Encoder[] } = {},
): MapperRegistry {
  const byId = new Map(mappers.map((m) => [m.id, m]));
  const encoders = new Map((extra.encoders ?? []).map((e) => [e.id, e]));
  return {
    get: (id) => byId.get(id),
    ids: () => [...byId.keys()],
    ...(extra.quality ? { quality: extra.quality } : {}),
    encoder: (id) => encoders.get(id),
    encoderIds: () => [...encoders.keys()],
  };
}

const MAPPINGS_INDEX = new URL('../mappings/index.ts', import.meta.url);

/**
 * The mapper registry shipped in mappings/ (`createMapperRegistry()` of mappings/index.ts), adapted to the
 * engine's interface; an empty registry when mappings/index.ts is not there (channels that reference a mapping
 * then fail to load, with a message that says so).
 */
export async function loadMapperRegistry(): Promise<MapperRegistry> {
  if (!existsSync(MAPPINGS_INDEX)) return staticRegistry([]);
  const modulePath = '../mappings/index.js';
  const module = (await import(modulePath)) as Record<string, unknown>;
  const create = module.createMapperRegistry as ((options?: unknown) => unknown) | undefined;
  if (typeof create !== 'function')
    throw new Error(
      'mappings/index.ts does not export createMapperRegistry(): the channel engine cannot load the mappings.',
    );
  return adaptRegistry(await create());
}

/** Accepts the registry object of mappings/ and exposes the engine's interface over it. */
export function adaptRegistry(registry: unknown): MapperRegistry {
  const r = registry as {
    get(id: string): Mapper<Hl7Message> | undefined;
    ids(): string[];
    quality?: QualityChecker;
    qualityChecker?: QualityChecker | (() => QualityChecker);
    encoder?(id: string): Encoder | undefined;
    getEncoder?(id: string): Encoder | undefined;
    encoderIds?(): string[];
    encoders?: { get(id: string): Encoder | undefined; ids(): string[] };
  };
  const quality = r.quality ?? (typeof r.qualityChecker === 'function' ? r.qualityChecker() : r.qualityChecker);
  const encoderOf = (id: string) => r.encoder?.(id) ?? r.getEncoder?.(id) ?? r.encoders?.get(id);
  const encoderIds = () => r.encoderIds?.() ?? r.encoders?.ids() ?? [];
  return {
    get: (id) => r.get(id),
    ids: () => r.ids(),
    ...(quality ? { quality } : {}),
    encoder: encoderOf,
    encoderIds,
  };
}
