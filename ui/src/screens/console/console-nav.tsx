import { Link } from '../../app/router.js';
import { useI18n } from '../../i18n/i18n.js';

export function ConsoleNav({ current }: { current: 'channels' | 'messages' | 'test' }) {
  const { t } = useI18n();
  const items = [
    { id: 'channels', to: '/console', label: t('console.nav.channels') },
    { id: 'messages', to: '/console/messages', label: t('console.nav.messages') },
    { id: 'test', to: '/console/test', label: t('console.nav.test') },
  ] as const;
  return (
    <nav className="subnav" aria-label={t('console.nav.label')}>
      <ul role="list">
        {items.map((item) => (
          <li key={item.id}>
            <Link
              to={item.to}
              className={item.id === current ? 'subnav-link current' : 'subnav-link'}
              aria-current={item.id === current ? 'page' : undefined}
            >
              {item.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}
