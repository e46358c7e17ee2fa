// Cluster profile: which hub instance projects which partition. Each instance holds a PostgreSQL session
// advisory lock per partition it owns (so at most one writer per partition, and a crashed instance's
// partitions are released by the server at once), and keeps about its fair share: ceil(partitions /
// live instances), live meaning a heartbeat in hub_instances within the last 15 s.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Migration } from '../store/sql/sql-client.js';
import type { PostgresClient } from '../store/sql/postgres-client.js';

export const clusterMigrations: Migration[] = [
  {
    id: 'hub-0002-instances',
    sql: `CREATE TABLE hub_instances (instance_id text PRIMARY KEY, seen_at timestamptz NOT NULL, owned integer[] NOT NULL DEFAULT '{}')`,
  },
];

const LOCK_BASE = 7_341_000;
export const APPLIED_CHANNEL = 'keney_applied';

export interface OwnershipCallbacks {
  assign(partitions: number[]): void;
  revoke(partitions: number[]): Promise<void>;
  notified(changeSetIds: string[]): void;
}

export class PartitionOwnership {
  private client: pg.PoolClient | undefined;
  private readonly owned = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private balancing: Promise<void> = Promise.resolve();

  constructor(
    private readonly postgres: PostgresClient,
    private readonly partitions: number,
    private readonly instanceId: string,
    private readonly callbacks: OwnershipCallbacks,
    private readonly logger: Logger,
    private readonly intervalMs = 5000,
  ) {}

  async start(): Promise<void> {
    await this.connect();
    await this.balance();
    this.timer = setInterval(() => {
      this.balancing = this.balancing
        .then(() => this.balance())
        .catch((error) => this.logger.warn({ err: error }, 'partition balancing failed'));
    }, this.intervalMs);
  }

  private async connect(): Promise<void> {
    const client = await this.postgres.connect();
    client.on('error', (error) => {
      this.logger.error(
        { err: error },
        'lost the partition-ownership connection: stopping projection of owned partitions',
      );
      void this.loseAll();
    });
    client.on('notification', (message) => {
      if (message.channel === APPLIED_CHANNEL && message.payload) this.callbacks.notified(message.payload.split(','));
    });
    await client.query(`LISTEN ${APPLIED_CHANNEL}`);
    this.client = client;
  }

  private async loseAll(): Promise<void> {
    const lost = [...this.owned];
    this.owned.clear();
    try {
      this.client?.release(true);
    } catch {
      // already gone
    }
    this.client = undefined;
    await this.callbacks.revoke(lost);
    if (!this.stopped) setTimeout(() => void this.connect().catch(() => undefined), 1000).unref();
  }

  private async balance(): Promise<void> {
    const client = this.client;
    if (!client || this.stopped) {
      if (!this.stopped && !this.client) await this.connect().catch(() => undefined);
      return;
    }
    await client.query(
      `INSERT INTO hub_instances (instance_id, seen_at, owned) VALUES ($1, now(), $2)
       ON CONFLICT (instance_id) DO UPDATE SET seen_at = now(), owned = EXCLUDED.owned`,
      [this.instanceId, [...this.owned]],
    );
    const live = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM hub_instances WHERE seen_at > now() - interval '15 seconds'`,
    );
    const share = Math.ceil(this.partitions / Math.max(1, live.rows[0]!.n));
    const gained: number[] = [];
    for (let p = 0; p < this.partitions && this.owned.size < share; p++) {
      if (this.owned.has(p)) continue;
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_BASE + p]);
      if (got.rows[0]!.ok) {
        this.owned.add(p);
        gained.push(p);
      }
    }
    if (gained.length > 0) {
      this.logger.info({ partitions: gained }, 'took ownership of partitions');
      this.callbacks.assign(gained);
    }
    if (this.owned.size > share) {
      const extra = [...this.owned].sort((a, b) => b - a).slice(0, this.owned.size - share);
      await this.callbacks.revoke(extra);
      for (const p of extra) {
        await client.query('SELECT pg_advisory_unlock($1)', [LOCK_BASE + p]);
        this.owned.delete(p);
      }
      this.logger.info({ partitions: extra }, 'released partitions to other instances');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.balancing.catch(() => undefined);
    await this.callbacks.revoke([...this.owned]);
    if (this.client) {
      await this.client
        .query('DELETE FROM hub_instances WHERE instance_id = $1', [this.instanceId])
        .catch(() => undefined);
      await this.client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      this.client.release();
      this.client = undefined;
    }
    this.owned.clear();
  }
}
