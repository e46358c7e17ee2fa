// Cluster profile: exactly one hub instance drains a destination queue at a time. Each instance keeps one
// dedicated PostgreSQL connection and takes a session advisory lock per destination it drains; the server
// releases them if the instance dies (connection gone), so another instance takes over within a poll.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { PostgresClient } from '../store/sql/postgres-client.js';

const LOCK_CLASS = 7_346_000;

export interface DestinationLocks {
  /** True if this instance holds (or just took) the lock of `key`. */
  hold(key: string): Promise<boolean>;
  release(key: string): Promise<void>;
  close(): Promise<void>;
}

export class PostgresDestinationLocks implements DestinationLocks {
  private client: pg.PoolClient | undefined;
  private connecting: Promise<pg.PoolClient> | undefined;
  private readonly held = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly postgres: PostgresClient,
    private readonly logger: Logger,
  ) {}

  private async connection(): Promise<pg.PoolClient> {
    if (this.client) return this.client;
    this.connecting ??= this.postgres.connect().then((client) => {
      client.on('error', (error) => {
        this.logger.error(
          { err: error },
          'lost the destination-lock connection: this instance stops draining its destinations until it reconnects',
        );
        this.held.clear();
        try {
          client.release(true);
        } catch {
          // already released
        }
        this.client = undefined;
      });
      this.client = client;
      this.connecting = undefined;
      return client;
    });
    return this.connecting;
  }

  /** Serializes the queries on the one connection. */
  private run<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const next = this.chain.then(async () => fn(await this.connection()));
    this.chain = next.catch(() => undefined);
    return next;
  }

  hold(key: string): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return this.run(async (client) => {
      if (this.held.has(key)) {
        // Still ours while the session lives: a cheap round trip proves the connection is alive.
        await client.query('SELECT 1');
        return this.held.has(key);
      }
      const result = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
        LOCK_CLASS,
        key,
      ]);
      if (result.rows[0]?.ok) this.held.add(key);
      return this.held.has(key);
    });
  }

  release(key: string): Promise<void> {
    if (!this.held.has(key)) return Promise.resolve();
    return this.run(async (client) => {
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, key]);
      this.held.delete(key);
    }).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    if (this.client) {
      await this.client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      this.client.release();
      this.client = undefined;
    }
    this.held.clear();
  }
}
