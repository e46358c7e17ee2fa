// The mapping test bench: paste or drop a message, choose a channel, see what it would produce — the FHIR
// transaction, the quality issues, the acknowledgment the sender would get. Nothing is stored
// (POST /admin/channels/:id/test).
import { useState, type DragEvent, type FormEvent } from 'react';
import type { ChannelTestResult, ChannelView } from '../../api/engine-types.js';
import { useSession } from '../../app/session.js';
import { useAsync } from '../../app/use-async.js';
import { PageHeading } from '../../components/page.js';
import { ErrorState } from '../../components/states.js';
import { useI18n } from '../../i18n/i18n.js';
import { ConsoleNav } from './console-nav.js';
import { IssuesTable } from './issues-table.js';

const MAX_FILE_BYTES = 16 * 1024 * 1024;

function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function TestBench() {
  const { t } = useI18n();
  const { api } = useSession();
  const channels = useAsync(
    async (signal) => (await api.admin<{ channels: ChannelView[] }>('channels', { signal })).channels,
    [],
  );
  const [channel, setChannel] = useState('');
  const [text, setText] = useState('');
  const [file, setFile] = useState<{ name: string; bytes: Uint8Array } | undefined>();
  const [result, setResult] = useState<ChannelTestResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);
  const chosen = channel || channels.data?.[0]?.id || '';

  const readFile = async (f: File) => {
    if (f.size > MAX_FILE_BYTES) {
      setError(t('bench.tooLarge', { size: Math.round(f.size / 1024 / 1024) }));
      return;
    }
    const bytes = new Uint8Array(await f.arrayBuffer());
    setFile({ name: f.name, bytes });
    // Shown as text for reading; sent as the exact bytes (the charset is the message's own, MSH-18).
    setText(new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/\r\n?/g, '\n'));
    setError(undefined);
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const f = event.dataTransfer.files[0];
    if (f) void readFile(f);
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!chosen) return setError(t('bench.noChannel'));
    if (!text.trim() && !file) return setError(t('bench.empty'));
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      const body = file ? { messageBase64: bytesToBase64(file.bytes) } : { message: text };
      setResult(
        await api.admin<ChannelTestResult>(`channels/${encodeURIComponent(chosen)}/test`, { method: 'POST', body }),
      );
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const resources = result?.bundle?.entry?.map((e) => e.resource?.resourceType).filter(Boolean) ?? [];
  const counts = [...new Set(resources)].map((type) => `${type} × ${resources.filter((r) => r === type).length}`);

  return (
    <section className="screen">
      <PageHeading title={t('bench.title')} />
      <ConsoleNav current="test" />
      <p className="notice notice-info">{t('bench.nothingStored')}</p>
      {channels.status === 'error' && <ErrorState error={channels.error} onRetry={channels.reload} />}
      <form className="bench-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="bench-channel">{t('messages.channel')}</label>
          <select id="bench-channel" value={chosen} onChange={(e) => setChannel(e.target.value)}>
            {(channels.data ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.name} ({c.id})
              </option>
            ))}
          </select>
        </div>
        <div
          className={dragging ? 'dropzone dragging' : 'dropzone'}
          onDragOver={(e) => (e.preventDefault(), setDragging(true))}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <label htmlFor="bench-message">{t('bench.message')}</label>
          <textarea
            id="bench-message"
            className="code"
            rows={12}
            value={text}
            spellCheck={false}
            onChange={(e) => (setText(e.target.value), setFile(undefined))}
            placeholder={'MSH|^~\\&|…'}
            aria-describedby="bench-help"
          />
          <p id="bench-help" className="muted small">
            {file ? t('bench.fromFile', { name: file.name, size: file.bytes.length }) : t('bench.help')}
          </p>
          <label className="button button-quiet file-button">
            {t('bench.chooseFile')}
            <input
              type="file"
              className="sr-only"
              accept=".hl7,.txt,.er7,text/plain"
              onChange={(e) => e.target.files?.[0] && void readFile(e.target.files[0])}
            />
          </label>
        </div>
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? t('bench.running') : t('bench.run')}
        </button>
      </form>
      {result && (
        <section className="bench-result" aria-labelledby="bench-result" aria-live="polite">
          <h2 className="section-title" id="bench-result">
            {t('bench.result')}
          </h2>
          <p>
            <span className={`badge badge-ack-${result.ackCode}`}>ACK {result.ackCode}</span>{' '}
            {t('bench.status', { status: t(`message.status.${result.status}`) })}
            {result.filtered && ` · ${t('bench.filtered', { reason: result.filtered })}`}
            {result.destinations.length > 0 &&
              ` · ${t('bench.destinations', { list: result.destinations.join(', ') })}`}
          </p>
          {result.issues.length > 0 ? (
            <IssuesTable issues={result.issues} />
          ) : (
            <p className="muted">{t('bench.noIssues')}</p>
          )}
          <div className="panes">
            <section className="pane" aria-labelledby="bench-fhir">
              <h3 className="pane-title" id="bench-fhir">
                {t('bench.fhir')} {counts.length > 0 && <span className="muted small">({counts.join(', ')})</span>}
              </h3>
              <div className="pane-body" tabIndex={0} role="region" aria-labelledby="bench-fhir">
                {result.bundle ? (
                  <pre className="code">{JSON.stringify(result.bundle, null, 2)}</pre>
                ) : (
                  <p className="muted">{t('message.noChangeSet')}</p>
                )}
              </div>
            </section>
            <section className="pane" aria-labelledby="bench-ack">
              <h3 className="pane-title" id="bench-ack">
                {t('bench.ack')}
              </h3>
              <div className="pane-body" tabIndex={0} role="region" aria-labelledby="bench-ack">
                <pre className="code">{result.acknowledgment?.replace(/\r/g, '\n') ?? '—'}</pre>
              </div>
            </section>
          </div>
        </section>
      )}
    </section>
  );
}
