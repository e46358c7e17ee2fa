import { useI18n } from '../i18n/i18n.js';
import type { IdentityStatus } from '../lib/patient.js';
import type { ResultFlag } from '../lib/results.js';

export function IdentityStatusBadge({ status }: { status: IdentityStatus | undefined }) {
  const { t } = useI18n();
  if (!status)
    return (
      <span className="badge badge-neutral" title={t('identity.status.none.help')}>
        {t('identity.status.none')}
      </span>
    );
  return (
    <span className={`badge badge-identity-${status.toLowerCase()}`} title={t(`identity.status.${status}.help`)}>
      <abbr title={t(`identity.status.${status}.help`)}>{status}</abbr>
      <span className="badge-text"> · {t(`identity.status.${status}`)}</span>
    </span>
  );
}

const FLAG_SYMBOL: Record<ResultFlag, string> = {
  high: '↑',
  'critical-high': '↑↑',
  low: '↓',
  'critical-low': '↓↓',
  abnormal: '!',
  normal: '',
  unknown: '',
};

export function FlagMark({ flag }: { flag: ResultFlag }) {
  const { t } = useI18n();
  if (flag === 'normal' || flag === 'unknown') return null;
  return (
    <span className={`flag flag-${flag}`} title={t(`flag.${flag}`)}>
      <span aria-hidden="true">{FLAG_SYMBOL[flag]}</span>
      <span className="sr-only"> {t(`flag.${flag}`)}</span>
    </span>
  );
}

export function MessageStatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  const known = ['received', 'filtered', 'queued', 'sent', 'error'].includes(status);
  return (
    <span className={`badge badge-status-${known ? status : 'other'}`}>
      {known ? t(`message.status.${status as 'sent'}`) : status}
    </span>
  );
}
