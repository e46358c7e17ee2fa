// The shell: a skip link, the header (sections, language, who is signed in), the screen for the current URL,
// and the keyboard shortcuts (`/` search, `g p` patients, `g c` console, `g m` messages, `?` help).
import { useEffect, useRef, useState } from 'react';
import { Dialog } from '../components/dialog.js';
import { Loading } from '../components/states.js';
import { useI18n } from '../i18n/i18n.js';
import { ChannelsScreen } from '../screens/console/channels-screen.js';
import { MessageScreen } from '../screens/console/message-screen.js';
import { MessagesScreen } from '../screens/console/messages-screen.js';
import { TestBench } from '../screens/console/test-bench.js';
import { RecordScreen } from '../screens/record/record-screen.js';
import { SEARCH_INPUT_ID, SearchScreen } from '../screens/search.js';
import { LoginScreen } from './login.js';
import { Link, matchPath, navigate, useLocation } from './router.js';
import { useSession } from './session.js';

export function App() {
  const session = useSession();
  const { t } = useI18n();
  if (session.restoring) return <Loading label={t('login.restoring')} />;
  if (!session.principal) return <LoginScreen />;
  return <Shell />;
}

function isTyping(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element) return false;
  return element.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(element.tagName);
}

function useShortcuts(openHelp: () => void, isAdmin: boolean) {
  const pending = useRef<{ key: string; at: number } | undefined>(undefined);
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      if (document.querySelector('dialog[open]')) return;
      const previous = pending.current && Date.now() - pending.current.at < 1500 ? pending.current.key : undefined;
      pending.current = undefined;
      if (event.key === '/') {
        event.preventDefault();
        const input = document.getElementById(SEARCH_INPUT_ID) as HTMLInputElement | null;
        if (input) {
          input.focus();
          input.select();
        } else {
          navigate('/patients');
          window.setTimeout(() => document.getElementById(SEARCH_INPUT_ID)?.focus(), 50);
        }
      } else if (event.key === '?') {
        event.preventDefault();
        openHelp();
      } else if (previous === 'g' && event.key === 'p') navigate('/patients');
      else if (previous === 'g' && event.key === 'c' && isAdmin) navigate('/console');
      else if (previous === 'g' && event.key === 'm' && isAdmin) navigate('/console/messages');
      else if (event.key === 'g') pending.current = { key: 'g', at: Date.now() };
    };
    window.addEventListener('keydown', onKeyDown);
    return () => window.removeEventListener('keydown', onKeyDown);
  }, [openHelp, isAdmin]);
}

function Shell() {
  const { t, locale, setLocale } = useI18n();
  const session = useSession();
  const { path } = useLocation();
  const [help, setHelp] = useState(false);
  useShortcuts(() => setHelp(true), session.isAdmin);
  useEffect(() => {
    if (path === '/' || path === '/login') navigate('/patients', { replace: true });
  }, [path]);
  const section = path.startsWith('/console') ? 'console' : 'patients';
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        {t('shell.skip')}
      </a>
      <header className="topbar">
        <Link to="/patients" className="brand" aria-label={t('shell.home')}>
          <img src="/favicon.svg" alt="" width="28" height="28" />
          <span>Keney Hub</span>
        </Link>
        <nav aria-label={t('shell.nav')}>
          <ul className="topnav" role="list">
            <li>
              <Link
                to="/patients"
                className={section === 'patients' ? 'topnav-link current' : 'topnav-link'}
                aria-current={section === 'patients' ? 'page' : undefined}
              >
                {t('shell.patients')}
              </Link>
            </li>
            {session.isAdmin && (
              <li>
                <Link
                  to="/console"
                  className={section === 'console' ? 'topnav-link current' : 'topnav-link'}
                  aria-current={section === 'console' ? 'page' : undefined}
                >
                  {t('shell.console')}
                </Link>
              </li>
            )}
          </ul>
        </nav>
        <div className="topbar-tools">
          <button
            type="button"
            className="button button-quiet button-small"
            onClick={() => setHelp(true)}
            aria-keyshortcuts="?"
          >
            {t('shell.shortcuts')}
          </button>
          <div className="lang" role="group" aria-label={t('shell.language')}>
            {(['fr', 'en'] as const).map((l) => (
              <button
                key={l}
                type="button"
                className={l === locale ? 'lang-button current' : 'lang-button'}
                aria-pressed={l === locale}
                lang={l}
                onClick={() => setLocale(l)}
              >
                {l.toUpperCase()}
              </button>
            ))}
          </div>
          <span className="user" title={session.principal?.roles.join(', ')}>
            {session.principal?.name}
          </span>
          <button type="button" className="button button-quiet button-small" onClick={session.logout}>
            {t('shell.logout')}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Routes />
      </main>
      <Dialog title={t('shortcuts.title')} open={help} onClose={() => setHelp(false)}>
        <dl className="shortcuts">
          <dt>
            <kbd>/</kbd>
          </dt>
          <dd>{t('shortcuts.search')}</dd>
          <dt>
            <kbd>g</kbd> <kbd>p</kbd>
          </dt>
          <dd>{t('shortcuts.patients')}</dd>
          {session.isAdmin && (
            <>
              <dt>
                <kbd>g</kbd> <kbd>c</kbd>
              </dt>
              <dd>{t('shortcuts.console')}</dd>
              <dt>
                <kbd>g</kbd> <kbd>m</kbd>
              </dt>
              <dd>{t('shortcuts.messages')}</dd>
            </>
          )}
          <dt>
            <kbd>←</kbd> <kbd>→</kbd>
          </dt>
          <dd>{t('shortcuts.tabs')}</dd>
          <dt>
            <kbd>{t('shortcuts.escapeKey')}</kbd>
          </dt>
          <dd>{t('shortcuts.close')}</dd>
          <dt>
            <kbd>?</kbd>
          </dt>
          <dd>{t('shortcuts.help')}</dd>
        </dl>
      </Dialog>
    </div>
  );
}

function Routes() {
  const { t } = useI18n();
  const { isAdmin } = useSession();
  const { path } = useLocation();
  let params: Record<string, string> | undefined;
  if (matchPath('/patients', path)) return <SearchScreen />;
  if ((params = matchPath('/patients/:id/:tab?/:item?', path)))
    return <RecordScreen key={params.id} patientId={params.id!} />;
  if (path.startsWith('/console') && !isAdmin) return <p className="notice notice-warning">{t('console.adminOnly')}</p>;
  if (matchPath('/console', path)) return <ChannelsScreen />;
  if (matchPath('/console/messages', path)) return <MessagesScreen />;
  if ((params = matchPath('/console/messages/:id', path)))
    return <MessageScreen key={params.id} messageId={params.id!} />;
  if (matchPath('/console/test', path)) return <TestBench />;
  return (
    <section className="screen">
      <h1 className="page-title">{t('shell.notFound')}</h1>
      <Link to="/patients">{t('shell.home')}</Link>
    </section>
  );
}
