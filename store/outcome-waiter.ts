// Waits for the projector's outcome of a change set (read-your-writes). Outcomes arrive from the local
// projector's events; in a cluster, another instance may apply the change set, so waiters are also
// resolved from the applied_change_sets table when notified (LISTEN/NOTIFY) and by a slow safety poll.
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import type { ChangeSetOutcome } from './projection/apply.js';
import type { Projector } from './projection/projector.js';
import type { SqlExecutor } from './sql/sql-client.js';

interface Waiter {
  resolve: (outcome: ChangeSetOutcome) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class OutcomeTimeoutError extends Error {
  constructor(
    readonly changeSetId: string,
    timeoutMs: number,
  ) {
    super(
      `Change set ${changeSetId} is durably in the log but was not applied within ${timeoutMs} ms (the projection is lagging).`,
    );
    this.name = 'OutcomeTimeoutError';
  }
}

export class OutcomeWaiter {
  private readonly waiters = new Map<string, Waiter[]>();
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly sql: SqlExecutor,
    projector: Projector,
    private readonly pollIntervalMs = 1000,
  ) {
    projector.on('outcome', (outcome) => this.settle(outcome));
  }

  /** Registers interest before the append, so an outcome published right after is not missed. */
  expect(changeSetId: string, timeoutMs: number): Promise<ChangeSetOutcome> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.remove(changeSetId, waiter);
        // A last look in the table before giving up (applied elsewhere, notification lost).
        this.fetch([changeSetId]).then(
          (found) => (found[0] ? resolve(found[0]) : reject(new OutcomeTimeoutError(changeSetId, timeoutMs))),
          () => reject(new OutcomeTimeoutError(changeSetId, timeoutMs)),
        );
      }, timeoutMs);
      const waiter: Waiter = { resolve, reject, timer };
      this.waiters.set(changeSetId, [...(this.waiters.get(changeSetId) ?? []), waiter]);
      this.ensurePolling();
    });
  }

  /** Cancels the wait for a change set whose append failed. */
  cancel(changeSetId: string, error: Error): void {
    for (const waiter of this.waiters.get(changeSetId) ?? []) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiters.delete(changeSetId);
  }

  /** Called when another instance announces applied change sets. */
  async notified(changeSetIds: string[]): Promise<void> {
    const wanted = changeSetIds.filter((id) => this.waiters.has(id));
    if (wanted.length === 0) return;
    for (const outcome of await this.fetch(wanted)) this.settle(outcome);
  }

  close(): void {
    if (this.poll) clearInterval(this.poll);
    for (const [id] of this.waiters) this.cancel(id, new Error('The hub is shutting down.'));
  }

  private settle(outcome: ChangeSetOutcome): void {
    const list = this.waiters.get(outcome.changeSetId);
    if (!list) return;
    this.waiters.delete(outcome.changeSetId);
    for (const waiter of list) {
      clearTimeout(waiter.timer);
      waiter.resolve(outcome);
    }
  }

  private remove(id: string, waiter: Waiter): void {
    const rest = (this.waiters.get(id) ?? []).filter((w) => w !== waiter);
    if (rest.length > 0) this.waiters.set(id, rest);
    else this.waiters.delete(id);
  }

  private ensurePolling(): void {
    if (this.poll) return;
    this.poll = setInterval(() => {
      if (this.waiters.size === 0) {
        clearInterval(this.poll);
        this.poll = undefined;
        return;
      }
      void this.notified([...this.waiters.keys()]).catch(() => undefined);
    }, this.pollIntervalMs);
    this.poll.unref();
  }

  async fetch(ids: string[]): Promise<ChangeSetOutcome[]> {
    const rows = await this.sql.query<{
      change_set_id: string;
      status: 'applied' | 'rejected';
      http_status: number;
      outcome: string;
    }>(
      'SELECT change_set_id, status, http_status, outcome FROM applied_change_sets WHERE change_set_id = ANY($1::uuid[])',
      [ids],
    );
    return rows.rows.map((r) => ({
      changeSetId: r.change_set_id,
      status: r.status,
      httpStatus: r.http_status,
      response: JSON.parse(r.outcome) as Bundle | OperationOutcome,
    }));
  }
}
