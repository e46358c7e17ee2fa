// Documents: the list (date, type, author, source) and the viewer — a CDA rendered as safe HTML by the hub
// (GET /fhir/DocumentReference/{id}/$html, allow-listed again here), a PDF shown inline, plain text as text.
import type { Attachment, DocumentReference } from '@medplum/fhirtypes';
import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../../api/client.js';
import { Link } from '../../app/router.js';
import { useSession } from '../../app/session.js';
import { useAsync } from '../../app/use-async.js';
import { SourceLine } from '../../components/source.js';
import { Empty, ErrorState, Loading } from '../../components/states.js';
import { useI18n } from '../../i18n/i18n.js';
import { conceptLabel, referenceLabel } from '../../lib/display.js';
import { copySafe } from '../../lib/safe-html.js';
import { sectionItems, useRecord } from './record-data.js';

export type DocumentKind = 'cda' | 'pdf' | 'text' | 'image' | 'other';

export function documentKind(attachment: Attachment | undefined): DocumentKind {
  const type = attachment?.contentType?.toLowerCase().split(';')[0]?.trim() ?? '';
  if (type === 'application/pdf') return 'pdf';
  if (
    type === 'text/xml' ||
    type === 'application/xml' ||
    type === 'application/hl7-v3+xml' ||
    type === 'application/cda+xml'
  )
    return 'cda';
  if (type.startsWith('text/plain')) return 'text';
  if (type === 'image/png' || type === 'image/jpeg' || type === 'image/gif') return 'image';
  return 'other';
}

export function documentTitle(doc: DocumentReference): string | undefined {
  return doc.content?.[0]?.attachment?.title ?? doc.description ?? conceptLabel(doc.type);
}

export function DocumentsTab() {
  const { t, fmt } = useI18n();
  const { state, patientId } = useRecord();
  const section = state.sections.documents;
  if (section.status === 'loading') return <Loading />;
  if (section.status === 'error') return <ErrorState error={section.error} />;
  const documents = sectionItems<DocumentReference>(section).filter((d) => d.status !== 'entered-in-error');
  return (
    <div className="tab-panel">
      <h2 className="section-title">{t('documents.title')}</h2>
      {documents.length === 0 ? (
        <Empty>{t('documents.none')}</Empty>
      ) : (
        <table className="table">
          <caption className="sr-only">{t('documents.title')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('documents.date')}</th>
              <th scope="col">{t('documents.document')}</th>
              <th scope="col">{t('documents.author')}</th>
              <th scope="col">{t('documents.format')}</th>
              <th scope="col">{t('source.label')}</th>
            </tr>
          </thead>
          <tbody>
            {documents.map((doc) => (
              <tr key={doc.id}>
                <td className="nowrap">{fmt.dateTime(doc.date ?? doc.context?.period?.start)}</td>
                <th scope="row">
                  <Link to={`/patients/${patientId}/documents/${doc.id}`}>
                    {documentTitle(doc) ?? t('documents.untitled')}
                  </Link>
                  {doc.type && documentTitle(doc) !== conceptLabel(doc.type) && (
                    <div className="muted small">{conceptLabel(doc.type)}</div>
                  )}
                  {doc.securityLabel?.some((l) => l.coding?.some((c) => c.code === 'PATRPT' || c.code === 'R')) && (
                    <span className="badge badge-warning">{t('documents.restricted')}</span>
                  )}
                </th>
                <td>
                  {doc.author
                    ?.map((a) => referenceLabel(a, state.referenced))
                    .filter(Boolean)
                    .join(', ') || '—'}
                </td>
                <td>{t(`documents.kind.${documentKind(doc.content?.[0]?.attachment)}`)}</td>
                <td>
                  <SourceLine source={state.lineage.latest(`DocumentReference/${doc.id}`)} compact />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function base64ToBytes(data: string): Uint8Array<ArrayBuffer> {
  const binary = atob(data.replace(/\s+/g, ''));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The attachment's bytes: inline data, or the Binary it points to on this hub. */
async function attachmentBlob(
  api: ReturnType<typeof useSession>['api'],
  attachment: Attachment,
  signal: AbortSignal,
): Promise<Blob> {
  const type = attachment.contentType ?? 'application/octet-stream';
  if (attachment.data) return new Blob([base64ToBytes(attachment.data)], { type });
  const url = attachment.url;
  if (!url) throw new Error('no-content');
  const binary = /(?:^|\/)Binary\/([A-Za-z0-9\-.]{1,64})$/.exec(url);
  if (!binary) throw new Error('external');
  const response = await api.request(`/fhir/Binary/${binary[1]}`, { accept: type, signal });
  const contentType = response.headers.get('content-type') ?? '';
  if (contentType.includes('json')) {
    const resource = (await response.json()) as { data?: string };
    return new Blob([base64ToBytes(resource.data ?? '')], { type });
  }
  return new Blob([await response.arrayBuffer()], { type });
}

export function DocumentView({ documentId }: { documentId: string }) {
  const { t, fmt } = useI18n();
  const { api } = useSession();
  const { state, patientId } = useRecord();
  const fromSection = sectionItems<DocumentReference>(state.sections.documents).find((d) => d.id === documentId);
  const loaded = useAsync<DocumentReference>(
    async (signal) => fromSection ?? api.fhir<DocumentReference>(`DocumentReference/${documentId}`, signal),
    [documentId, fromSection !== undefined],
  );
  if (loaded.status === 'loading') return <Loading />;
  if (loaded.status === 'error') return <ErrorState error={loaded.error} onRetry={loaded.reload} />;
  const doc = loaded.data;
  const attachment = doc.content?.[0]?.attachment;
  const kind = documentKind(attachment);
  const title = documentTitle(doc) ?? t('documents.untitled');
  return (
    <div className="tab-panel document-view">
      <p>
        <Link to={`/patients/${patientId}/documents`}>← {t('documents.back')}</Link>
      </p>
      <h2 className="section-title">{title}</h2>
      <dl className="facts facts-inline">
        <dt>{t('documents.date')}</dt>
        <dd>{fmt.dateTime(doc.date ?? doc.context?.period?.start)}</dd>
        <dt>{t('documents.type')}</dt>
        <dd>{conceptLabel(doc.type) ?? '—'}</dd>
        <dt>{t('documents.author')}</dt>
        <dd>
          {doc.author
            ?.map((a) => referenceLabel(a, state.referenced))
            .filter(Boolean)
            .join(', ') || '—'}
        </dd>
        <dt>{t('source.label')}</dt>
        <dd>
          <SourceLine source={state.lineage.latest(`DocumentReference/${doc.id}`)} compact />
        </dd>
      </dl>
      {kind === 'cda' && <CdaView doc={doc} />}
      {(kind === 'pdf' || kind === 'image' || kind === 'text' || kind === 'other') && attachment && (
        <AttachmentView attachment={attachment} kind={kind} title={title} />
      )}
      {!attachment && <Empty>{t('documents.noContent')}</Empty>}
    </div>
  );
}

function CdaView({ doc }: { doc: DocumentReference }) {
  const { t } = useI18n();
  const { api } = useSession();
  const container = useRef<HTMLDivElement>(null);
  const html = useAsync<string>(
    (signal) => api.text(`/fhir/DocumentReference/${doc.id}/$html`, 'text/html', signal),
    [doc.id],
  );
  useEffect(() => {
    const target = container.current;
    if (!target || html.status !== 'ok') return;
    target.replaceChildren();
    const parsed = new DOMParser().parseFromString(html.data, 'text/html');
    copySafe(parsed.body, target, document, undefined, 0, { headingShift: 2 });
  }, [html.status, html.data]);
  if (html.status === 'loading') return <Loading label={t('documents.rendering')} />;
  if (html.status === 'error') {
    const status = html.error instanceof ApiError ? html.error.status : undefined;
    return (
      <div>
        <ErrorState
          error={html.error}
          title={
            status === 415
              ? t('documents.notCda')
              : status === 404
                ? t('documents.noRenderer')
                : t('documents.renderFailed')
          }
          onRetry={html.reload}
        />
        {doc.content?.[0]?.attachment && (
          <AttachmentView
            attachment={doc.content[0].attachment}
            kind="other"
            title={documentTitle(doc) ?? 'document'}
          />
        )}
      </div>
    );
  }
  return <article className="cda" ref={container} aria-label={t('documents.content')} />;
}

function AttachmentView({ attachment, kind, title }: { attachment: Attachment; kind: DocumentKind; title: string }) {
  const { t } = useI18n();
  const { api } = useSession();
  const [url, setUrl] = useState<string | undefined>();
  const blob = useAsync<Blob>(
    (signal) => attachmentBlob(api, attachment, signal),
    [attachment.url, attachment.data?.length],
  );
  const [text, setText] = useState<string | undefined>();
  useEffect(() => {
    if (blob.status !== 'ok') return;
    const objectUrl = URL.createObjectURL(blob.data);
    setUrl(objectUrl);
    if (kind === 'text') void blob.data.text().then(setText);
    return () => URL.revokeObjectURL(objectUrl);
  }, [blob.status, blob.data, kind]);
  if (blob.status === 'loading') return <Loading />;
  if (blob.status === 'error') {
    const message =
      blob.error.message === 'external'
        ? t('documents.external')
        : blob.error.message === 'no-content'
          ? t('documents.noContent')
          : undefined;
    return message ? (
      <p className="notice notice-info">{message}</p>
    ) : (
      <ErrorState error={blob.error} onRetry={blob.reload} />
    );
  }
  const extension = kind === 'pdf' ? 'pdf' : kind === 'text' ? 'txt' : 'bin';
  return (
    <div className="attachment">
      {url && kind === 'pdf' && <iframe className="pdf-frame" src={url} title={t('documents.pdfFrame', { title })} />}
      {url && kind === 'image' && <img className="document-image" src={url} alt={title} />}
      {kind === 'text' && text !== undefined && <pre className="document-text">{text}</pre>}
      {url && (
        <p>
          <a
            className="button"
            href={url}
            download={`${title.replace(/[^\p{L}\p{N} _-]+/gu, '').slice(0, 60) || 'document'}.${extension}`}
          >
            {t('documents.download')}
          </a>
        </p>
      )}
    </div>
  );
}
