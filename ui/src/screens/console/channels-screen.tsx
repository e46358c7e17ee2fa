// The channels at a glance, refreshed every few seconds: state, source, counters since start and rates over the
// last minute, queue depths and dead letters per destination, alerts and errors — with start / pause / stop.
import { useEffect, useState } from 'react';
import type { ChannelView } from '../../api/engine-types.js';
import { Link } from '../../app/router.js';
import { useSession } from '../../app/session.js';
import { useAsync } from '../../app/use-async.js';
import { PageHeading } from '../../components/page.js';
import { Empty, ErrorState, Loading } from '../../components/states.js';
import { useI18n } from '../../i18n/i18n.js';
import { ConsoleNav } from './console-nav.js';

const REFRESH_MS = 5000;

export function ChannelsScreen() {
  const { t, fmt } = useI18n();
  const { api } = useSession();
  const [tick, setTick] = useState(0);
  const channels = useAsync(
    async (signal) => ({
      list: (await api.admin<{ channels: ChannelView[] }>('channels', { signal })).channels,
      at: new Date().toISOString(),
    }),
    [tick],
  );
  useEffect(() => {
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, []);
  return (
    <section className="screen">
      <PageHeading title={t('console.title')} />
      <ConsoleNav current="channels" />
      {channels.status === 'loading' && !channels.data && <Loading />}
      {channels.status === 'error' && <ErrorState error={channels.error} onRetry={channels.reload} />}
      {channels.data && (
        <>
          <p className="muted small" aria-live="off">
            {t('console.updated', { time: fmt.time(channels.data.at) })}
          </p>
          {channels.data.list.length === 0 ? (
            <Empty>{t('console.noChannels')}</Empty>
          ) : (
            <div className="channel-grid">
              {channels.data.list.map((channel) => (
                <ChannelCard key={channel.id} channel={channel} onChange={() => setTick((n) => n + 1)} />
              ))}
            </div>
          )}
        </>
      )}
    </section>
  );
}

const STATE_CLASS: Record<string, string> = {
  started: 'ok',
  paused: 'warning',
  stopped: 'neutral',
  failed: 'danger',
  invalid: 'danger',
};

function ChannelCard({ channel, onChange }: { channel: ChannelView; onChange: () => void }) {
  const { t, fmt } = useI18n();
  const { api } = useSession();
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const act = async (verb: 'start' | 'pause' | 'stop' | 'resume') => {
    setBusy(verb);
    setError(undefined);
    try {
      await api.admin(`channels/${encodeURIComponent(channel.id)}/${verb}`, { method: 'POST', body: {} });
      onChange();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(undefined);
    }
  };
  const total = channel.stats.total;
  const rate = channel.stats.ratePerSecond;
  const errors = total.errored;
  return (
    <article className="card channel" aria-labelledby={`channel-${channel.id}`}>
      <div className="channel-head">
        <h2 className="card-title" id={`channel-${channel.id}`}>
          {channel.name}
        </h2>
        <span className={`badge badge-${STATE_CLASS[channel.state] ?? 'neutral'}`}>
          {STATE_CLASS[channel.state] ? t(`channel.state.${channel.state as 'started'}`) : channel.state}
        </span>
      </div>
      <p className="muted small mono">
        {channel.id} ·{' '}
        {channel.source ? `${channel.source.type} ${channel.source.endpoint ?? ''}` : t('console.noSource')}
        {channel.source?.listening
          ? ` · ${t('console.connections', { count: channel.source.connections ?? 0 })}`
          : channel.source
            ? ` · ${t('console.notListening')}`
            : ''}
      </p>
      {channel.description && <p className="small">{channel.description}</p>}
      <dl className="counters">
        <div>
          <dt>{t('console.received')}</dt>
          <dd>
            {fmt.number(total.received)}{' '}
            <span className="muted small">{t('console.perMinute', { rate: fmt.number(rate.received * 60, 1) })}</span>
          </dd>
        </div>
        <div>
          <dt>{t('console.accepted')}</dt>
          <dd>{fmt.number(total.accepted)}</dd>
        </div>
        <div>
          <dt>{t('console.filtered')}</dt>
          <dd>{fmt.number(total.filtered)}</dd>
        </div>
        <div className={errors > 0 ? 'counter-error' : undefined}>
          <dt>{t('console.errors')}</dt>
          <dd>{fmt.number(errors)}</dd>
        </div>
        <div>
          <dt>{t('console.duplicates')}</dt>
          <dd>{fmt.number(total.duplicate)}</dd>
        </div>
        <div>
          <dt>{t('console.inFlight')}</dt>
          <dd>{fmt.number(channel.inFlight)}</dd>
        </div>
      </dl>
      {channel.destinations.length > 0 && (
        <table className="table table-compact">
          <caption>{t('console.destinations')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('console.destination')}</th>
              <th scope="col" className="num">
                {t('console.queue')}
              </th>
              <th scope="col" className="num">
                {t('console.dead')}
              </th>
              <th scope="col">{t('console.lastError')}</th>
            </tr>
          </thead>
          <tbody>
            {channel.destinations.map((d) => (
              <tr key={d.destination}>
                <th scope="row">
                  {d.destination} <span className="muted small">({d.type})</span>
                </th>
                <td className="num">{fmt.number(d.pending)}</td>
                <td className={d.dead > 0 ? 'num cell-abnormal' : 'num'}>{fmt.number(d.dead)}</td>
                <td className="small">
                  {d.lastError ? `${d.lastError} (${fmt.dateTime(d.lastErrorAt ?? undefined)})` : '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {channel.alerts.map((alert) => (
        <p key={`${alert.kind}-${alert.destination ?? ''}`} className="notice notice-warning small" role="status">
          {alert.message}
        </p>
      ))}
      {(channel.error || channel.pendingFileError) && (
        <p className="notice notice-danger small" role="alert">
          {channel.error ?? channel.pendingFileError}
        </p>
      )}
      {error && (
        <p className="notice notice-danger small" role="alert">
          {error}
        </p>
      )}
      <div className="channel-actions">
        <Link to={`/console/messages?channel=${encodeURIComponent(channel.id)}`} className="button">
          {t('console.messages')}
        </Link>
        {errors > 0 && (
          <Link to={`/console/messages?channel=${encodeURIComponent(channel.id)}&status=error`} className="button">
            {t('console.seeErrors')}
          </Link>
        )}
        {channel.state !== 'started' && (
          <button
            type="button"
            className="button"
            disabled={busy !== undefined}
            onClick={() => act(channel.state === 'paused' ? 'resume' : 'start')}
          >
            {t('console.start')}
          </button>
        )}
        {channel.state === 'started' && (
          <button type="button" className="button" disabled={busy !== undefined} onClick={() => act('pause')}>
            {t('console.pause')}
          </button>
        )}
        {channel.state !== 'stopped' && (
          <button
            type="button"
            className="button button-danger"
            disabled={busy !== undefined}
            onClick={() => act('stop')}
          >
            {t('console.stop')}
          </button>
        )}
      </div>
    </article>
  );
}
