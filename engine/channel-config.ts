// Channel files: `channels/<id>.channel.yaml`, validated by `channels/channel.schema.json`. These are the types
// of a loaded (validated, defaults applied) channel; the loader is in channel-loader.ts.

export interface TlsConfig {
  cert?: string;
  key?: string;
  ca?: string;
  requireClientCertificate?: boolean;
}

export interface RetryConfig {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryConfig = { maxAttempts: 10, initialDelayMs: 1000, maxDelayMs: 300_000 };

export interface MllpSourceConfig {
  type: 'mllp';
  host: string;
  port: number;
  tls?: TlsConfig;
  maxConnections?: number;
  idleTimeoutMs?: number;
  maxMessageBytes?: number;
  framing?: 'tolerant' | 'strict';
  processingTimeoutMs?: number;
}

export interface FileSourceConfig {
  type: 'file';
  directory: string;
  pattern: string;
  pollIntervalMs: number;
  processedDirectory?: string;
  errorDirectory?: string;
  maxMessageBytes?: number;
}

export interface HttpSourceConfig {
  type: 'http';
  host: string;
  port: number;
  path: string;
  tls?: TlsConfig;
  maxMessageBytes?: number;
}

export interface SubscriptionSourceConfig {
  type: 'subscription';
  resourceType: string;
  criteria?: string;
}

export type SourceConfig = MllpSourceConfig | FileSourceConfig | HttpSourceConfig | SubscriptionSourceConfig;

export interface FieldFilter {
  field: string;
  equals?: string;
  in?: string[];
  matches?: string;
  exists?: boolean;
  not?: boolean;
}

export interface AnyOfFilter {
  anyOf: FilterConfig[];
  not?: boolean;
}

export type FilterConfig = FieldFilter | AnyOfFilter;

export type DestinationContent = 'raw' | 'bundle';

export interface StoreDestinationConfig {
  type: 'store';
  name: string;
}

export interface MllpDestinationConfig {
  type: 'mllp';
  name: string;
  host: string;
  port: number;
  tls?: TlsConfig;
  ackTimeoutMs?: number;
  connectTimeoutMs?: number;
  content: 'raw';
  retry: RetryConfig;
}

export interface FileDestinationConfig {
  type: 'file';
  name: string;
  directory: string;
  fileName: string;
  content: DestinationContent;
  retry: RetryConfig;
}

export interface FhirDestinationConfig {
  type: 'fhir';
  name: string;
  url: string;
  token?: string;
  timeoutMs?: number;
  retry: RetryConfig;
}

export interface HttpDestinationConfig {
  type: 'http';
  name: string;
  url: string;
  headers: Record<string, string>;
  content: DestinationContent;
  timeoutMs?: number;
  retry: RetryConfig;
}

export interface KafkaDestinationConfig {
  type: 'kafka';
  name: string;
  brokers: string;
  topic: string;
  content: DestinationContent;
  timeoutMs?: number;
  retry: RetryConfig;
}

export type QueuedDestinationConfig =
  | MllpDestinationConfig
  | FileDestinationConfig
  | FhirDestinationConfig
  | HttpDestinationConfig
  | KafkaDestinationConfig;

export type DestinationConfig = StoreDestinationConfig | QueuedDestinationConfig;

export interface AlertConfig {
  queueDepth?: number;
  consecutiveFailures?: number;
  webhook?: string;
}

export interface ChannelConfig {
  id: string;
  name: string;
  description?: string;
  enabled: boolean;
  format: 'hl7v2';
  source: SourceConfig;
  filters: FilterConfig[];
  mapping?: string;
  encoder?: string;
  quality: boolean;
  destinations: DestinationConfig[];
  alerts: AlertConfig;
}

/** A channel file as loaded: its config, where it came from, and the text it was read from. */
export interface LoadedChannel {
  config: ChannelConfig;
  file: string;
  /** sha256 of the file's text after ${VAR} substitution: an unchanged hash means nothing to reload. */
  digest: string;
}

export function isFieldFilter(filter: FilterConfig): filter is FieldFilter {
  return 'field' in filter;
}

export function hasStoreDestination(config: ChannelConfig): boolean {
  return config.destinations.some((d) => d.type === 'store');
}

export function queuedDestinations(config: ChannelConfig): QueuedDestinationConfig[] {
  return config.destinations.filter((d): d is QueuedDestinationConfig => d.type !== 'store');
}

/** The part of a source that identifies its listener: while it is unchanged, a reload keeps the listener. */
export function listenerIdentity(source: SourceConfig): string {
  switch (source.type) {
    case 'mllp':
      return JSON.stringify([
        'mllp',
        source.host,
        source.port,
        source.tls ?? null,
        source.maxConnections ?? null,
        source.framing ?? null,
        source.maxMessageBytes ?? null,
      ]);
    case 'http':
      return JSON.stringify(['http', source.host, source.port, source.tls ?? null]);
    case 'file':
      return JSON.stringify(['file', source.directory, source.pattern]);
    case 'subscription':
      return JSON.stringify(['subscription', source.resourceType, source.criteria ?? null]);
    default:
      return source satisfies never;
  }
}
