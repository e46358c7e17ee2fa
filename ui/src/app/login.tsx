// The login screen: an API token (kny_…) from `keney token create` or the one printed at the hub's first start.
import { useState, type FormEvent } from 'react';
import { useI18n } from '../i18n/i18n.js';
import { PageHeading } from '../components/page.js';
import { useSession } from './session.js';

export function LoginScreen() {
  const { t } = useI18n();
  const session = useSession();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!token.trim()) {
      setError(t('login.empty'));
      return;
    }
    setBusy(true);
    setError(undefined);
    const result = await session.login(token);
    setBusy(false);
    if (!result.ok) {
      setError(
        result.reason === 'unknown-token'
          ? t('login.unknown')
          : result.reason === 'unreachable'
            ? t('error.unreachable')
            : result.message,
      );
    }
  };

  return (
    <div className="login">
      <form className="login-card" onSubmit={submit} noValidate aria-describedby="login-help">
        <PageHeading title={t('login.title')} />
        {session.ended && (
          <p className="notice notice-warning" role="status">
            {t('login.ended')}
          </p>
        )}
        <p id="login-help" className="muted">
          {t('login.help')}
        </p>
        <label htmlFor="token">{t('login.token')}</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'login-error' : undefined}
          autoFocus
        />
        {error && (
          <p id="login-error" className="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? t('login.checking') : t('login.submit')}
        </button>
        <p className="muted small">{t('login.where')}</p>
      </form>
    </div>
  );
}
