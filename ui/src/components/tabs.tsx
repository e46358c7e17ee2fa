// Tabs as links (each tab has its URL, so the browser's back button and bookmarks work), with the ARIA tabs
// keyboard model: arrows move between tabs, Home/End jump to the first/last.
import { useRef, type KeyboardEvent } from 'react';
import { Link, navigate } from '../app/router.js';

export interface TabItem {
  id: string;
  label: string;
  to: string;
  count?: number;
}

export function TabBar({ tabs, current, label }: { tabs: TabItem[]; current: string; label: string }) {
  const refs = useRef<(HTMLAnchorElement | null)[]>([]);
  const onKeyDown = (event: KeyboardEvent, index: number) => {
    let next: number | undefined;
    if (event.key === 'ArrowRight') next = (index + 1) % tabs.length;
    else if (event.key === 'ArrowLeft') next = (index - 1 + tabs.length) % tabs.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = tabs.length - 1;
    if (next === undefined) return;
    event.preventDefault();
    navigate(tabs[next]!.to, { replace: true });
    refs.current[next]?.focus();
  };
  return (
    <nav className="tabs" aria-label={label}>
      <ul role="list">
        {tabs.map((tab, i) => (
          <li key={tab.id}>
            <Link
              to={tab.to}
              ref={(el: HTMLAnchorElement | null) => {
                refs.current[i] = el;
              }}
              className={tab.id === current ? 'tab tab-current' : 'tab'}
              aria-current={tab.id === current ? 'page' : undefined}
              onKeyDown={(e) => onKeyDown(e, i)}
            >
              {tab.label}
              {tab.count !== undefined && <span className="tab-count">{tab.count}</span>}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}
