// Group commit: callers submit items one by one; while one flush is in progress the next items gather,
// and the next flush takes them all at once. Under load many callers share one durable write; alone, a
// caller waits for exactly one write. Used by the SQL log (and available to any durable appender).

export interface GroupCommitOptions {
  /** At most this many items per flush (the rest wait for the next). */
  maxBatch?: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter<I, O> {
  private queue: Pending<I, O>[] = [];
  private flushing: Promise<void> | undefined;
  private readonly maxBatch: number;

  constructor(
    private readonly flush: (batch: I[]) => Promise<O[]>,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) this.flushing = this.run();
    });
  }

  /** Resolves once everything submitted so far is flushed. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async run(): Promise<void> {
    // Let callers that arrive in the same tick join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const results = await this.flush(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.flushing = undefined;
  }
}
