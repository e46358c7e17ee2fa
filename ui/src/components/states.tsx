// Loading, error and empty states: every screen and section shows one of them instead of a blank.
import type { ReactNode } from 'react';
import { ApiError } from '../api/client.js';
import { useI18n } from '../i18n/i18n.js';

export function Loading({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label ?? t('state.loading')}
    </div>
  );
}

export function ErrorState({ error, onRetry, title }: { error: Error; onRetry?: () => void; title?: string }) {
  const { t } = useI18n();
  const status = error instanceof ApiError ? error.status : undefined;
  const hint =
    status === 0
      ? t('error.unreachable')
      : status === 403
        ? t('error.forbidden')
        : status === 404
          ? t('error.notFound')
          : status !== undefined && status >= 500
            ? t('error.server')
            : undefined;
  return (
    <div className="state state-error" role="alert">
      <p className="state-title">{title ?? t('error.title')}</p>
      <p>{error.message}</p>
      {hint && <p className="muted">{hint}</p>}
      {onRetry && (
        <button type="button" className="button" onClick={onRetry}>
          {t('action.retry')}
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state state-empty">{children}</p>;
}
