// One message with everything about it: what arrived (raw, decoded segment by segment), what it produced (the
// FHIR change set, the resources and their lineage), what each destination answered — two views side by side —
// and what an integrator does about it: replay, replay to one destination, edit then replay.
import type { Bundle } from '@medplum/fhirtypes';
import { useState, type FormEvent } from 'react';
import type { EditResult, MessageDetail, ReplayResult } from '../../api/engine-types.js';
import { Link, navigate } from '../../app/router.js';
import { useSession } from '../../app/session.js';
import { useAsync } from '../../app/use-async.js';
import { MessageStatusBadge } from '../../components/badges.js';
import { Dialog } from '../../components/dialog.js';
import { PageHeading } from '../../components/page.js';
import { ErrorState, Loading } from '../../components/states.js';
import { useI18n, type Translate } from '../../i18n/i18n.js';
import { ConsoleNav } from './console-nav.js';
import { issueText } from './issue-text.js';
import { IssuesTable } from './issues-table.js';

const VIEWS = ['raw', 'decoded', 'fhir', 'responses'] as const;
type View = (typeof VIEWS)[number];

export function MessageScreen({ messageId }: { messageId: string }) {
  const { t, fmt } = useI18n();
  const { api } = useSession();
  const message = useAsync<MessageDetail>(
    (signal) => api.admin<MessageDetail>(`messages/${encodeURIComponent(messageId)}`, { signal }),
    [messageId],
  );
  const [left, setLeft] = useState<View>('raw');
  const [right, setRight] = useState<View | undefined>();
  const [replay, setReplay] = useState<{ busy: boolean; result?: ReplayResult; error?: string }>({ busy: false });
  const [destination, setDestination] = useState('');
  const [editing, setEditing] = useState(false);

  if (message.status === 'loading' && !message.data) return <Loading />;
  if (message.status === 'error') {
    return (
      <section className="screen">
        <ConsoleNav current="messages" />
        <ErrorState error={message.error} onRetry={message.reload} />
      </section>
    );
  }
  const m = message.data!;
  const destinations = [...new Set(m.deliveries.map((d) => d.destination))];
  const doReplay = async () => {
    setReplay({ busy: true });
    try {
      const result = await api.admin<ReplayResult>(`messages/${encodeURIComponent(m.id)}/replay`, {
        method: 'POST',
        body: destination ? { destination } : {},
      });
      setReplay({ busy: false, result });
      message.reload();
    } catch (error) {
      setReplay({ busy: false, error: (error as Error).message });
    }
  };
  const patientRef = m.resources.find((r) => r.reference.startsWith('Patient/'))?.reference.split('/')[1];

  return (
    <section className="screen screen-message">
      <PageHeading title={t('message.title', { id: m.controlId ?? m.id })} />
      <ConsoleNav current="messages" />
      <div className="message-head">
        <MessageStatusBadge status={m.status} />
        {m.ackCode && <span className="badge badge-neutral">ACK {m.ackCode}</span>}
        {m.errorStage && <span className="badge badge-danger">{t('messages.stage', { stage: m.errorStage })}</span>}
        <span className="mono">{m.messageType}</span>
      </div>
      <dl className="facts facts-grid">
        <dt>{t('messages.received')}</dt>
        <dd>{fmt.dateTimeSeconds(m.receivedAt)}</dd>
        <dt>{t('messages.channel')}</dt>
        <dd>
          <Link to={`/console/messages?channel=${encodeURIComponent(m.channel)}`}>{m.channel}</Link>
        </dd>
        <dt>{t('message.source')}</dt>
        <dd className="mono small">{m.source ?? '—'}</dd>
        <dt>{t('messages.sender')}</dt>
        <dd>{m.sender ?? '—'}</dd>
        <dt>{t('messages.controlId')}</dt>
        <dd className="mono">{m.controlId ?? '—'}</dd>
        <dt>{t('messages.patient')}</dt>
        <dd className="mono small">{patientNumbers(m.patientIds).join(' · ') || '—'}</dd>
        <dt>{t('message.size')}</dt>
        <dd>{t('message.bytes', { count: fmt.number(m.rawSize) })}</dd>
        <dt>sha256</dt>
        <dd className="mono small break">{m.rawSha256}</dd>
        <dt>{t('message.store')}</dt>
        <dd>
          {m.store ? `${storeState(t, m.store.state)}${m.store.httpStatus ? ` (${m.store.httpStatus})` : ''}` : '—'}
        </dd>
        {m.duplicates > 0 && (
          <>
            <dt>{t('message.duplicates')}</dt>
            <dd>{m.duplicates}</dd>
          </>
        )}
        {m.editedFrom && (
          <>
            <dt>{t('message.editedFrom')}</dt>
            <dd>
              <Link to={`/console/messages/${m.editedFrom}`}>{m.editedFrom}</Link>
              {m.editNote && (
                <div className="small muted">
                  {t('message.editNote', { by: m.editNote.by, reason: m.editNote.reason })}
                </div>
              )}
            </dd>
          </>
        )}
        {m.edits.length > 0 && (
          <>
            <dt>{t('message.edits')}</dt>
            <dd>
              {m.edits.map((id) => (
                <div key={id}>
                  <Link to={`/console/messages/${id}`}>{id}</Link>
                </div>
              ))}
            </dd>
          </>
        )}
      </dl>

      {(m.errors.length > 0 || m.warnings.length > 0) && (
        <section aria-labelledby="message-issues">
          <h2 className="section-title" id="message-issues">
            {t('message.issues')}
          </h2>
          <IssuesTable issues={[...m.errors, ...m.warnings]} />
        </section>
      )}

      <section className="actions-bar" aria-label={t('message.actions')}>
        <div className="field field-inline">
          <label htmlFor="replay-destination">{t('message.replayTo')}</label>
          <select id="replay-destination" value={destination} onChange={(e) => setDestination(e.target.value)}>
            <option value="">{t('message.allDestinations')}</option>
            <option value="store">{t('message.storeOnly')}</option>
            {destinations.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </div>
        <button type="button" className="button button-primary" onClick={doReplay} disabled={replay.busy}>
          {replay.busy ? t('message.replaying') : t('message.replay')}
        </button>
        <button type="button" className="button" onClick={() => setEditing(true)}>
          {t('message.edit')}
        </button>
        <a
          className="button button-quiet"
          href={m.rawUrl}
          onClick={(e) => (e.preventDefault(), void downloadRaw(api, m))}
        >
          {t('message.download')}
        </a>
      </section>
      {replay.result && (
        <p
          className={replay.result.outcome?.status === 'error' ? 'notice notice-danger' : 'notice notice-success'}
          role="status"
        >
          {replay.result.queued
            ? t('message.replayQueued', { destination: replay.result.queued.destination })
            : t('message.replayDone', {
                status: replay.result.outcome?.status ?? '?',
                ack: replay.result.outcome?.ack ?? '?',
              })}
          {replay.result.outcome?.errors[0] && ` — ${issueText(t, replay.result.outcome.errors[0])}`}
        </p>
      )}
      {replay.error && (
        <p className="notice notice-danger" role="alert">
          {replay.error}
        </p>
      )}

      <div className="panes">
        <Pane id="left" view={left} onView={setLeft} message={m} />
        <Pane id="right" view={right ?? (m.changeSet ? 'fhir' : 'decoded')} onView={setRight} message={m} />
      </div>

      <section aria-labelledby="message-lineage">
        <h2 className="section-title" id="message-lineage">
          {t('message.lineage')}
        </h2>
        {m.resources.length === 0 ? (
          <p className="muted">{t('message.noResources')}</p>
        ) : (
          <ul className="lineage-list">
            {m.resources
              .filter((r) => !r.reference.startsWith('MessageHeader/'))
              .map((r) => {
                const [type, id] = r.reference.split('/');
                const target =
                  type === 'Patient'
                    ? `/patients/${id}`
                    : patientRef
                      ? `/patients/${patientRef}/${tabFor(type ?? '')}`
                      : undefined;
                return (
                  <li key={r.reference}>
                    {target ? <Link to={target}>{r.reference}</Link> : <span className="mono">{r.reference}</span>}
                  </li>
                );
              })}
          </ul>
        )}
      </section>
      <Dialog title={t('message.editTitle')} open={editing} onClose={() => setEditing(false)} wide>
        <EditForm
          message={m}
          onDone={(result) => (setEditing(false), result.edited && navigate(`/console/messages/${result.edited}`))}
        />
      </Dialog>
    </section>
  );
}

/** The patient's numbers as the message carries them (IPP, INS), without the `authority|id` search keys that
 *  repeat them. */
function patientNumbers(ids: string[]): string[] {
  const bare = [...new Set(ids.filter((id) => !id.includes('|')))];
  return (bare.length > 0 ? bare : ids).slice(0, 4);
}

function storeState(t: Translate, state: string): string {
  return state === 'applied' || state === 'rejected' || state === 'pending' ? t(`store.state.${state}`) : state;
}

function tabFor(type: string): string {
  switch (type) {
    case 'Observation':
    case 'DiagnosticReport':
    case 'Specimen':
      return 'results';
    case 'Encounter':
      return 'stays';
    case 'DocumentReference':
    case 'Binary':
      return 'documents';
    case 'ImagingStudy':
      return 'imaging';
    case 'ServiceRequest':
    case 'MedicationRequest':
    case 'Appointment':
      return 'orders';
    case 'Condition':
    case 'Procedure':
    case 'ChargeItem':
      return 'dim';
    default:
      return '';
  }
}

async function downloadRaw(api: ReturnType<typeof useSession>['api'], m: MessageDetail) {
  const blob = await api.blob(m.rawUrl);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `${m.controlId ?? m.id}.hl7`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function Pane({
  id,
  view,
  onView,
  message,
}: {
  id: string;
  view: View;
  onView: (v: View) => void;
  message: MessageDetail;
}) {
  const { t } = useI18n();
  return (
    <section className="pane" aria-labelledby={`pane-${id}-label`}>
      <div className="pane-head">
        <label htmlFor={`pane-${id}`} id={`pane-${id}-label`}>
          {id === 'left' ? t('message.paneLeft') : t('message.paneRight')}
        </label>
        <select id={`pane-${id}`} value={view} onChange={(e) => onView(e.target.value as View)}>
          {VIEWS.map((v) => (
            <option key={v} value={v}>
              {t(`message.view.${v}`)}
            </option>
          ))}
        </select>
      </div>
      <div className="pane-body" tabIndex={0} role="region" aria-label={t(`message.view.${view}`)}>
        {view === 'raw' &&
          (message.raw !== null ? (
            <pre className="code code-raw">{message.raw.replace(/\r\n?/g, '\n')}</pre>
          ) : (
            <p className="muted">{t('message.rawTooLarge')}</p>
          ))}
        {view === 'decoded' && <Decoded message={message} />}
        {view === 'fhir' && <Produced bundle={message.changeSet} />}
        {view === 'responses' && <Responses message={message} />}
      </div>
    </section>
  );
}

function Decoded({ message }: { message: MessageDetail }) {
  const { t } = useI18n();
  if (!message.decoded)
    return (
      <p className="notice notice-danger">
        {message.decodeError ? `${message.decodeError.code}: ${message.decodeError.message}` : t('message.notDecoded')}
      </p>
    );
  return (
    <ol className="segments">
      {message.decoded.segments.map((segment) => (
        <li key={segment.index}>
          <span className="segment-name">{segment.name}</span>
          <dl className="segment-fields">
            {segment.fields.map((field) => (
              <div key={field.position}>
                <dt className="mono">
                  {segment.name}-{field.position}
                </dt>
                <dd className="mono">{field.value}</dd>
              </div>
            ))}
          </dl>
        </li>
      ))}
    </ol>
  );
}

function Produced({ bundle }: { bundle: Bundle | null }) {
  const { t } = useI18n();
  if (!bundle) return <p className="muted">{t('message.noChangeSet')}</p>;
  return (
    <>
      <ul className="entries">
        {(bundle.entry ?? []).map((entry, i) => (
          <li key={entry.fullUrl ?? i} className="mono small">
            {entry.request?.method} {entry.request?.url}
            {entry.request?.ifNoneExist ? ` (if-none-exist ${entry.request.ifNoneExist})` : ''}
          </li>
        ))}
      </ul>
      <pre className="code">{JSON.stringify(bundle, null, 2)}</pre>
    </>
  );
}

function Responses({ message }: { message: MessageDetail }) {
  const { t, fmt } = useI18n();
  return (
    <>
      <p className="small">
        <strong>{t('message.storeDestination')}</strong> :{' '}
        {message.store
          ? `${storeState(t, message.store.state)} ${message.store.httpStatus ?? ''}`
          : t('message.notStored')}
      </p>
      {message.deliveries.length === 0 ? (
        <p className="muted">{t('message.noDeliveries')}</p>
      ) : (
        <table className="table table-compact">
          <caption className="sr-only">{t('message.view.responses')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('console.destination')}</th>
              <th scope="col">{t('message.generation')}</th>
              <th scope="col">{t('messages.status')}</th>
              <th scope="col">{t('message.attempts')}</th>
              <th scope="col">{t('message.response')}</th>
            </tr>
          </thead>
          <tbody>
            {message.deliveries.map((d) => (
              <tr key={`${d.destination}-${d.generation}`}>
                <th scope="row">{d.destination}</th>
                <td>{d.generation}</td>
                <td>
                  {t(`delivery.status.${d.status}`)}
                  <div className="small muted">{fmt.dateTime(d.updatedAt)}</div>
                </td>
                <td>{d.attempts}</td>
                <td>
                  {d.lastError && <p className="small cell-abnormal">{d.lastError}</p>}
                  {d.response ? (
                    <pre className="code small">{d.response.replace(/\r\n?/g, '\n')}</pre>
                  ) : (
                    !d.lastError && '—'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function EditForm({ message, onDone }: { message: MessageDetail; onDone: (result: EditResult) => void }) {
  const { t } = useI18n();
  const { api } = useSession();
  const [text, setText] = useState((message.raw ?? '').replace(/\r\n?/g, '\n'));
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!reason.trim()) {
      setError(t('message.reasonRequired'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      onDone(
        await api.admin<EditResult>(`messages/${encodeURIComponent(message.id)}/edit`, {
          method: 'POST',
          body: { message: text, reason },
        }),
      );
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} className="edit-form" noValidate>
      <p className="muted small">{t('message.editHelp')}</p>
      <label htmlFor="edit-message">{t('message.editText')}</label>
      <textarea
        id="edit-message"
        className="code"
        rows={14}
        value={text}
        onChange={(e) => setText(e.target.value)}
        spellCheck={false}
      />
      <label htmlFor="edit-reason">{t('message.reason')}</label>
      <input
        id="edit-reason"
        value={reason}
        onChange={(e) => setReason(e.target.value)}
        placeholder={t('message.reasonPlaceholder')}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'edit-error' : undefined}
      />
      {error && (
        <p id="edit-error" className="field-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="button button-primary" disabled={busy}>
        {busy ? t('message.replaying') : t('message.editSubmit')}
      </button>
    </form>
  );
}
