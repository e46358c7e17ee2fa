// Test helpers for rendered CDA narrative (used by the CDA tests and by the registry's $html tests).
import { expect } from 'vitest';

/** The HTML tags and attributes that may appear in rendered narrative. */
export const NARRATIVE_TAGS = new Set([
  'article',
  'header',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'dl',
  'dt',
  'dd',
  'section',
  'div',
  'p',
  'span',
  'br',
  'sub',
  'sup',
  'ul',
  'ol',
  'li',
  'small',
  'a',
  'img',
  'pre',
  ...['table', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'caption', 'col', 'colgroup'],
]);
const ALLOWED_ATTRIBUTES = new Set([
  'class',
  'id',
  'href',
  'src',
  'alt',
  'colspan',
  'rowspan',
  'span',
  'align',
  'valign',
  'scope',
]);

/** Checks rendered HTML against the allow-list with a small tokenizer (what a browser would see as tags). */
export function assertSafeHtml(html: string): void {
  for (const m of html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)) {
    expect(NARRATIVE_TAGS.has(m[1]!.toLowerCase()), `tag <${m[1]}>`).toBe(true);
    for (const a of m[2]!.matchAll(/\s([^\s=]+)="([^"]*)"/g)) {
      expect(ALLOWED_ATTRIBUTES.has(a[1]!.toLowerCase()), `attribute ${a[1]}`).toBe(true);
      if (a[1] === 'href') expect(a[2]).toMatch(/^#cda-[A-Za-z0-9_-]+$/);
      if (a[1] === 'src') expect(a[2]).toMatch(/^data:image\/(png|jpeg|gif);base64,[A-Za-z0-9+/=]+$/);
    }
    // Nothing after the attributes but quoted name=value pairs.
    expect(m[2]!.replace(/\s[^\s=]+="[^"]*"/g, '').trim()).toBe('');
  }
  // Text may mention anything (escaped); markup may not.
  expect(html).not.toMatch(/<script|<iframe|<object|<embed|<svg/i);
}
