// The bridge between the Kafka change log and @platformatic/kafka's protocol layer, which is callback-based and
// loosely typed: a Base client with promise-returning helpers, and the classification of its errors.
import {
  Base,
  GenericError,
  kGetApi,
  kGetBootstrapConnection,
  kGetConnection,
  kMetadata,
  protocolErrors,
  protocolErrorsCodesById,
  type ClusterMetadata,
  type Connection,
} from '@platformatic/kafka';
import { KafkaLogError } from './kafka-log-errors.js';

// The protocol layer is callback-based and loosely typed; this is the one place that bridges it.
export type RawApi = ((connection: Connection, ...args: unknown[]) => void) & { version: number };

export class LogClient extends Base {
  private readonly apis = new Map<string, RawApi>();

  api(name: string): Promise<RawApi> {
    const known = this.apis.get(name);
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      this[kGetApi](name, (error, api) => {
        if (error) return reject(error);
        this.apis.set(name, api as unknown as RawApi);
        resolve(api as unknown as RawApi);
      });
    });
  }

  topicMetadata(topic: string, forceUpdate = false): Promise<ClusterMetadata> {
    return new Promise((resolve, reject) =>
      this[kMetadata]({ topics: [topic], forceUpdate }, (error, metadata) =>
        error ? reject(error) : resolve(metadata!),
      ),
    );
  }

  connectionTo(broker: { host: string; port: number }): Promise<Connection> {
    return new Promise((resolve, reject) =>
      this[kGetConnection](broker, (error, connection) => (error ? reject(error) : resolve(connection!))),
    );
  }

  anyConnection(): Promise<Connection> {
    return new Promise((resolve, reject) =>
      this[kGetBootstrapConnection]((error, connection) => (error ? reject(error) : resolve(connection!))),
    );
  }
}

export function call<T>(api: RawApi, connection: Connection, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) =>
    api(connection, ...args, (error: unknown, result: T) => (error ? reject(error) : resolve(result))),
  );
}

/** The response inside a Kafka "response with errors" (partition-level errors), if that is what this is. */
export function responseOf<T>(error: unknown): T | undefined {
  return (error as { response?: T } | undefined)?.response;
}

export function kafkaErrorName(code: number): string {
  return protocolErrorsCodesById[code] ?? `error code ${code}`;
}

export function isRetriableKafkaError(name: string): boolean {
  return protocolErrors[name]?.canRetry ?? false;
}

/** Is this thrown error one that a retry will not fix (a Kafka protocol error marked not retriable)? */
export function isFinal(error: unknown): boolean {
  if (error instanceof KafkaLogError) return true;
  return Boolean(findBy(error, 'canRetry', false));
}

/** The first error in a @platformatic/kafka error chain whose `property` is `value`. */
export function findBy(error: unknown, property: string, value: unknown): unknown {
  if (!(error instanceof Error) || !GenericError.isGenericError(error)) return null;
  return (error as GenericError).findBy(property, value);
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const nested = (error as AggregateError).errors;
  const inner = Array.isArray(nested) && nested.length > 0 ? nested[nested.length - 1] : undefined;
  const detail = inner instanceof Error ? `: ${describeError(inner)}` : '';
  const apiId = (error as { apiId?: string }).apiId;
  return `${apiId ? `${apiId} ` : ''}${error.message.replace(/\.+$/, '')}${detail}`;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export function backoff(attempt: number): number {
  return Math.min(1000, 50 * 2 ** attempt);
}
