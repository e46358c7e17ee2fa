// "Where it came from": the channel, the message (control id) and when — with a link to the message in the
// integration console for those who may open it (admins), text for the others.
import { useSession } from '../app/session.js';
import { Link } from '../app/router.js';
import { useI18n } from '../i18n/i18n.js';
import type { Source } from '../lib/lineage.js';

export function SourceLine({ source, compact = false }: { source: Source | undefined; compact?: boolean }) {
  const { t, fmt } = useI18n();
  const { isAdmin } = useSession();
  if (!source) return <span className="source muted">{t('source.unknown')}</span>;
  const origin = source.channel
    ? t('source.channel', { channel: source.channel })
    : source.principal
      ? t('source.api')
      : t('source.unknown');
  const label = source.controlId ? t('source.message', { id: source.controlId }) : t('source.messageNoId');
  return (
    <span className="source">
      {!compact && <span className="source-label">{t('source.label')} </span>}
      <span>{origin}</span>
      {source.sender && <span className="muted"> · {source.sender}</span>}
      {source.messageId ? (
        <>
          {' · '}
          {isAdmin ? (
            <Link
              to={`/console/messages/${source.messageId}`}
              className="source-message"
              aria-label={t('source.openMessage', { id: source.controlId ?? source.messageId })}
            >
              {label}
            </Link>
          ) : (
            <span>{label}</span>
          )}
        </>
      ) : null}
      {source.recorded && !compact && <span className="muted"> · {fmt.dateTime(source.recorded)}</span>}
    </span>
  );
}
