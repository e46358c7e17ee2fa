// Alerts: a destination whose queue keeps growing, or that keeps failing, or a store that refuses change sets.
// An alert fires once when its condition starts (an error log line and a POST to the channel's webhook) and
// once more when it clears; the admin API lists the active ones.
import type { Logger } from 'pino';

export const AlertKind = {
  QueueDepth: 'queue-depth',
  DeliveryFailures: 'delivery-failures',
  StoreUnavailable: 'store-unavailable',
  ChangeSetRejected: 'change-set-rejected',
} as const;
export type AlertKind = (typeof AlertKind)[keyof typeof AlertKind];

export interface Alert {
  kind: AlertKind;
  channel: string;
  destination?: string;
  message: string;
  since: string;
  /** The measure that crossed the threshold (queue depth, consecutive failures…). */
  value?: number;
  threshold?: number;
}

export interface AlertNotice extends Alert {
  state: 'firing' | 'resolved';
  hub: string;
}

export class AlertCenter {
  private readonly active = new Map<string, Alert>();

  constructor(
    private readonly logger: Logger,
    private readonly hubName: string,
    private readonly post: (url: string, body: AlertNotice) => Promise<void> = postJson,
  ) {}

  list(channel?: string): Alert[] {
    return [...this.active.values()].filter((a) => !channel || a.channel === channel);
  }

  /** Sets the condition of one alert: fires on the first true, resolves on the first false after it. */
  set(on: boolean, alert: Omit<Alert, 'since'>, webhook: string | undefined): void {
    const key = `${alert.kind}|${alert.channel}|${alert.destination ?? ''}`;
    const current = this.active.get(key);
    if (on && !current) {
      const fired: Alert = { ...alert, since: new Date().toISOString() };
      this.active.set(key, fired);
      this.logger.error(
        {
          alert: alert.kind,
          channel: alert.channel,
          destination: alert.destination,
          value: alert.value,
          threshold: alert.threshold,
        },
        `ALERT: ${alert.message}`,
      );
      this.notify(webhook, { ...fired, state: 'firing', hub: this.hubName });
    } else if (on && current) {
      current.value = alert.value;
      current.message = alert.message;
    } else if (!on && current) {
      this.active.delete(key);
      this.logger.info(
        { alert: alert.kind, channel: alert.channel, destination: alert.destination },
        `alert resolved: ${current.message}`,
      );
      this.notify(webhook, { ...current, ...alert, state: 'resolved', hub: this.hubName });
    }
  }

  /** A one-off alert (no condition to clear), e.g. a change set rejected by the projector. */
  raise(alert: Omit<Alert, 'since'>, webhook: string | undefined): void {
    this.logger.error({ alert: alert.kind, channel: alert.channel }, `ALERT: ${alert.message}`);
    this.notify(webhook, { ...alert, since: new Date().toISOString(), state: 'firing', hub: this.hubName });
  }

  clearChannel(channel: string): void {
    for (const [key, alert] of this.active) if (alert.channel === channel) this.active.delete(key);
  }

  private notify(webhook: string | undefined, notice: AlertNotice): void {
    if (!webhook) return;
    this.post(webhook, notice).catch((error: Error) =>
      this.logger.warn({ err: error, channel: notice.channel }, `the alert webhook failed: ${error.message}`),
    );
  }
}

async function postJson(url: string, body: AlertNotice): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
}
