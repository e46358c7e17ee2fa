// Page title and focus: on every screen change the document title says where you are, and focus moves to the
// main heading so that screen-reader and keyboard users start at the top of the new content.
import { useEffect, useRef, type ReactNode } from 'react';

export function PageHeading({ title, children, level = 1 }: { title: string; children?: ReactNode; level?: 1 | 2 }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Keney Hub`;
  }, [title]);
  useEffect(() => {
    if (level === 1 && document.activeElement === document.body) ref.current?.focus({ preventScroll: true });
  }, [level]);
  const Tag = level === 1 ? 'h1' : 'h2';
  return (
    <Tag ref={ref} tabIndex={-1} className="page-title">
      {children ?? title}
    </Tag>
  );
}
