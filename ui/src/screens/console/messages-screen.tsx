// The message browser: search by channel, status, time, type, control id, patient, text (GET /admin/messages),
// newest first, one page at a time; each row opens the message.
import { useEffect, useState, type FormEvent } from 'react';
import type { ChannelView, MessagePage, MessageSummary } from '../../api/engine-types.js';
import { MESSAGE_STATUSES } from '../../api/engine-types.js';
import { Link, navigate, useLocation } from '../../app/router.js';
import { useSession } from '../../app/session.js';
import { useAsync } from '../../app/use-async.js';
import { MessageStatusBadge } from '../../components/badges.js';
import { PageHeading } from '../../components/page.js';
import { Empty, ErrorState, Loading } from '../../components/states.js';
import { useI18n } from '../../i18n/i18n.js';
import { ConsoleNav } from './console-nav.js';

const FILTERS = ['channel', 'status', 'from', 'to', 'type', 'controlId', 'patient', 'text'] as const;
type Filter = (typeof FILTERS)[number];

/** datetime-local value (local time, no zone) → ISO-8601 for the API. */
function toIso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function formFrom(query: URLSearchParams): Record<Filter, string> {
  return Object.fromEntries(
    FILTERS.map((f) => [f, f === 'from' || f === 'to' ? toLocalInput(query.get(f)) : (query.get(f) ?? '')]),
  ) as Record<Filter, string>;
}

export function MessagesScreen() {
  const { t, fmt } = useI18n();
  const { api } = useSession();
  const { query, href } = useLocation();
  const [form, setForm] = useState<Record<Filter, string>>(() => formFrom(query));
  useEffect(() => setForm(formFrom(new URLSearchParams(href.split('?')[1] ?? ''))), [href]);
  const channels = useAsync(
    async (signal) => (await api.admin<{ channels: ChannelView[] }>('channels', { signal })).channels,
    [],
  );
  const [pages, setPages] = useState<MessageSummary[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const [moreError, setMoreError] = useState<Error | undefined>();
  const apiQuery = new URLSearchParams();
  for (const f of FILTERS) {
    const value = query.get(f);
    if (value) apiQuery.set(f, value);
  }
  apiQuery.set('limit', '50');
  const first = useAsync<MessagePage>(
    (signal) => api.admin<MessagePage>(`messages?${apiQuery.toString()}`, { signal }),
    [apiQuery.toString()],
  );
  useEffect(() => {
    if (first.status === 'ok') {
      setPages(first.data.messages);
      setCursor(first.data.next);
      setMoreError(undefined);
    }
  }, [first.status, first.data]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const value = f === 'from' || f === 'to' ? toIso(form[f]) : form[f].trim();
      if (value) next.set(f, value);
    }
    navigate(`/console/messages${next.size ? `?${next.toString()}` : ''}`);
  };
  const loadMore = async () => {
    if (!cursor) return;
    try {
      const params = new URLSearchParams(apiQuery);
      params.set('cursor', cursor);
      const page = await api.admin<MessagePage>(`messages?${params.toString()}`);
      setPages((p) => [...p, ...page.messages]);
      setCursor(page.next);
    } catch (error) {
      setMoreError(error as Error);
    }
  };
  const field = (name: Filter, label: string, props: Record<string, string> = {}) => (
    <div className="field">
      <label htmlFor={`filter-${name}`}>{label}</label>
      <input
        id={`filter-${name}`}
        name={name}
        value={form[name]}
        onChange={(e) => setForm({ ...form, [name]: e.target.value })}
        {...props}
      />
    </div>
  );

  return (
    <section className="screen">
      <PageHeading title={t('messages.title')} />
      <ConsoleNav current="messages" />
      <form className="filters" onSubmit={submit} aria-label={t('messages.filters')}>
        <div className="field">
          <label htmlFor="filter-channel">{t('messages.channel')}</label>
          <select
            id="filter-channel"
            value={form.channel}
            onChange={(e) => setForm({ ...form, channel: e.target.value })}
          >
            <option value="">{t('messages.allChannels')}</option>
            {(channels.data ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
            {form.channel && !(channels.data ?? []).some((c) => c.id === form.channel) && (
              <option value={form.channel}>{form.channel}</option>
            )}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-status">{t('messages.status')}</label>
          <select id="filter-status" value={form.status} onChange={(e) => setForm({ ...form, status: e.target.value })}>
            <option value="">{t('messages.allStatuses')}</option>
            {MESSAGE_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`message.status.${s}`)}
              </option>
            ))}
          </select>
        </div>
        {field('from', t('messages.from'), { type: 'datetime-local' })}
        {field('to', t('messages.to'), { type: 'datetime-local' })}
        {field('type', t('messages.type'), { placeholder: 'ORU^R01' })}
        {field('controlId', t('messages.controlId'))}
        {field('patient', t('messages.patient'), { placeholder: 'IPP100042' })}
        {field('text', t('messages.text'), { placeholder: t('messages.textPlaceholder') })}
        <div className="filters-actions">
          <button type="submit" className="button button-primary">
            {t('messages.search')}
          </button>
          <Link to="/console/messages" className="button button-quiet">
            {t('messages.reset')}
          </Link>
        </div>
      </form>
      <div aria-live="polite" aria-busy={first.status === 'loading'}>
        {first.status === 'loading' && <Loading />}
        {first.status === 'error' && <ErrorState error={first.error} onRetry={first.reload} />}
        {first.status === 'ok' && pages.length === 0 && <Empty>{t('messages.none')}</Empty>}
        {first.status === 'ok' && pages.length > 0 && (
          <div className="table-scroll" role="region" aria-label={t('messages.caption')} tabIndex={0}>
            <table className="table messages-table">
              <caption className="sr-only">{t('messages.caption')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('messages.received')}</th>
                  <th scope="col">{t('messages.typeShort')}</th>
                  <th scope="col">{t('messages.controlId')}</th>
                  <th scope="col">{t('messages.channel')}</th>
                  <th scope="col">{t('messages.sender')}</th>
                  <th scope="col">{t('messages.patient')}</th>
                  <th scope="col">{t('messages.status')}</th>
                </tr>
              </thead>
              <tbody>
                {pages.map((m) => (
                  <tr key={m.id} className={m.status === 'error' ? 'row-error' : undefined}>
                    <td className="nowrap">
                      <Link
                        to={`/console/messages/${m.id}`}
                        aria-label={t('messages.open', { id: m.controlId ?? m.id })}
                      >
                        {fmt.dateTimeSeconds(m.receivedAt)}
                      </Link>
                    </td>
                    <td className="mono">{m.messageType ?? '—'}</td>
                    <th scope="row" className="mono">
                      {m.controlId ?? '—'}
                    </th>
                    <td>{m.channel}</td>
                    <td className="small">{m.sender ?? '—'}</td>
                    <td className="mono small">{m.patientIds[0] ?? '—'}</td>
                    <td>
                      <MessageStatusBadge status={m.status} />
                      {m.ackCode && <span className="muted small"> {m.ackCode}</span>}
                      {m.errorStage && (
                        <div className="small muted">{t('messages.stage', { stage: m.errorStage })}</div>
                      )}
                      {m.editedFrom && <div className="small muted">{t('messages.edited')}</div>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {moreError && <ErrorState error={moreError} onRetry={loadMore} />}
        {cursor && first.status === 'ok' && (
          <button type="button" className="button" onClick={loadMore}>
            {t('messages.more')}
          </button>
        )}
      </div>
    </section>
  );
}
