// A small client-side router on the History API: the hub serves index.html for every UI path (hub/ui-module.ts),
// so /patients/123 can be bookmarked and reloaded. Links are real <a href> (open in a new tab works).
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode, type Ref } from 'react';

const listeners = new Set<() => void>();

function emit(): void {
  for (const listener of listeners) listener();
}

window.addEventListener('popstate', emit);

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  emit();
}

export interface Location {
  path: string;
  query: URLSearchParams;
  href: string;
}

export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot);
  const q = href.indexOf('?');
  return { path: q >= 0 ? href.slice(0, q) : href, query: new URLSearchParams(q >= 0 ? href.slice(q + 1) : ''), href };
}

/** Matches "/patients/:id/:tab?" against a path; returns the decoded parameters or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const parts = pattern.split('/').filter(Boolean);
  const segments = path.split('/').filter(Boolean);
  const params: Record<string, string> = {};
  let i = 0;
  for (; i < parts.length; i++) {
    const part = parts[i]!;
    const optional = part.endsWith('?');
    const segment = segments[i];
    if (segment === undefined) {
      if (optional) continue;
      return undefined;
    }
    if (part.startsWith(':')) {
      try {
        params[part.slice(1).replace(/\?$/, '')] = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
    } else if (part !== segment) return undefined;
  }
  return segments.length <= parts.length ? params : undefined;
}

export function Link({
  to,
  children,
  ref,
  ...rest
}: { to: string; children: ReactNode; ref?: Ref<HTMLAnchorElement> } & Omit<
  AnchorHTMLAttributes<HTMLAnchorElement>,
  'href'
>) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    rest.onClick?.(event);
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} ref={ref} {...rest} onClick={onClick}>
      {children}
    </a>
  );
}
