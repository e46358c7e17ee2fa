// Per-channel statistics: Prometheus counters on the hub's /metrics (received, filtered, errored, accepted,
// duplicates, deliveries, queue depths, processing time) and, for the admin API, the same counts since start
// with their rate over the last minute.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export const StatName = {
  Received: 'received',
  Filtered: 'filtered',
  Errored: 'errored',
  Accepted: 'accepted',
  Duplicate: 'duplicate',
  Sent: 'sent',
  DeliveryFailed: 'deliveryFailed',
  DeadLettered: 'deadLettered',
} as const;
export type StatName = (typeof StatName)[keyof typeof StatName];
const STAT_NAMES: readonly StatName[] = Object.values(StatName);

const WINDOW_SECONDS = 60;

/** Counts per second over the last minute, for a rate that means "now". */
class RateWindow {
  private readonly buckets = new Float64Array(WINDOW_SECONDS);
  private second = Math.floor(Date.now() / 1000);

  add(n = 1): void {
    this.advance();
    this.buckets[this.second % WINDOW_SECONDS]! += n;
  }

  perSecond(): number {
    this.advance();
    let total = 0;
    for (const b of this.buckets) total += b;
    return total / WINDOW_SECONDS;
  }

  private advance(): void {
    const now = Math.floor(Date.now() / 1000);
    if (now - this.second >= WINDOW_SECONDS) this.buckets.fill(0);
    else for (let s = this.second + 1; s <= now; s++) this.buckets[s % WINDOW_SECONDS] = 0;
    this.second = now;
  }
}

export interface ChannelCounts {
  /** Since the hub started. */
  total: Record<StatName, number>;
  /** Per second, averaged over the last minute. */
  ratePerSecond: Record<StatName, number>;
}

export class ChannelStats {
  private readonly counts = new Map<string, { total: Record<StatName, number>; rates: Record<StatName, RateWindow> }>();
  private readonly messages: Counter<'channel' | 'outcome'>;
  private readonly deliveries: Counter<'channel' | 'destination' | 'outcome'>;
  readonly queueDepth: Gauge<'channel' | 'destination' | 'status'>;
  readonly processing: Histogram<'channel'>;

  constructor(registry?: Registry) {
    const registers = registry ? [registry] : [];
    this.messages = new Counter({
      name: 'keney_channel_messages_total',
      help: 'Inbound messages per channel by outcome (received, filtered, errored, accepted, duplicate)',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'keney_channel_deliveries_total',
      help: 'Delivery attempts per destination by outcome (sent, failed, dead)',
      labelNames: ['channel', 'destination', 'outcome'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'keney_channel_queue_depth',
      help: 'Deliveries waiting (status pending) or in the dead letter (status dead), per destination',
      labelNames: ['channel', 'destination', 'status'],
      registers,
    });
    this.processing = new Histogram({
      name: 'keney_channel_processing_seconds',
      help: 'Time from a message received to its acknowledgment being ready',
      labelNames: ['channel'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
  }

  private entry(channel: string) {
    let e = this.counts.get(channel);
    if (!e) {
      e = {
        total: Object.fromEntries(STAT_NAMES.map((n) => [n, 0])) as Record<StatName, number>,
        rates: Object.fromEntries(STAT_NAMES.map((n) => [n, new RateWindow()])) as Record<StatName, RateWindow>,
      };
      this.counts.set(channel, e);
    }
    return e;
  }

  count(channel: string, name: StatName, destination?: string): void {
    const e = this.entry(channel);
    e.total[name]++;
    e.rates[name].add();
    switch (name) {
      case StatName.Sent:
        this.deliveries.inc({ channel, destination: destination ?? '', outcome: 'sent' });
        break;
      case StatName.DeliveryFailed:
        this.deliveries.inc({ channel, destination: destination ?? '', outcome: 'failed' });
        break;
      case StatName.DeadLettered:
        this.deliveries.inc({ channel, destination: destination ?? '', outcome: 'dead' });
        break;
      default:
        this.messages.inc({ channel, outcome: name });
    }
  }

  of(channel: string): ChannelCounts {
    const e = this.entry(channel);
    return {
      total: { ...e.total },
      ratePerSecond: Object.fromEntries(
        STAT_NAMES.map((n) => [n, Math.round(e.rates[n].perSecond() * 100) / 100]),
      ) as Record<StatName, number>,
    };
  }
}
