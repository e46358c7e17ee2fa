// A second, client-side allow-list over the CDA narrative HTML the hub renders (connectors/documents: already
// allow-listed there). Nodes are rebuilt one by one with createElement and textContent — never innerHTML — so
// nothing outside the list below can reach the page, whatever the server sent.

const ELEMENTS = new Set([
  'section',
  'article',
  'header',
  'footer',
  'div',
  'p',
  'span',
  'br',
  'hr',
  'pre',
  'small',
  'strong',
  'em',
  'b',
  'i',
  'u',
  'sub',
  'sup',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'ol',
  'ul',
  'li',
  'dl',
  'dt',
  'dd',
  'table',
  'caption',
  'colgroup',
  'col',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'th',
  'td',
  'a',
  'img',
  'figure',
  'figcaption',
]);
/** Elements dropped together with their content. */
const DROP = new Set([
  'script',
  'style',
  'iframe',
  'object',
  'embed',
  'svg',
  'math',
  'template',
  'noscript',
  'link',
  'meta',
  'base',
  'form',
  'input',
  'button',
  'textarea',
  'select',
  'frame',
  'frameset',
  'applet',
  'video',
  'audio',
  'source',
  'title',
  'head',
]);
const ATTRIBUTES: Record<string, (value: string, element: string) => string | undefined> = {
  class: (v) =>
    v
      .split(/\s+/)
      .filter((c) => /^cda-[a-z0-9-]+$/i.test(c))
      .join(' ') || undefined,
  id: (v) => (/^cda-[A-Za-z0-9_.:-]{1,100}$/.test(v) ? v : undefined),
  colspan: (v) => (/^\d{1,3}$/.test(v) ? v : undefined),
  rowspan: (v) => (/^\d{1,3}$/.test(v) ? v : undefined),
  scope: (v) => (['row', 'col', 'rowgroup', 'colgroup'].includes(v) ? v : undefined),
  align: (v) => (['left', 'right', 'center', 'justify', 'char'].includes(v) ? v : undefined),
  valign: (v) => (['top', 'middle', 'bottom', 'baseline'].includes(v) ? v : undefined),
  href: (v, element) => (element === 'a' && /^#cda-[A-Za-z0-9_.:-]{1,100}$/.test(v) ? v : undefined),
  src: (v, element) =>
    element === 'img' && /^data:image\/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]+$/.test(v) ? v : undefined,
  alt: (v) => v.slice(0, 500),
  title: (v) => v.slice(0, 500),
};

export interface SanitizeReport {
  removedElements: number;
  removedAttributes: number;
}

export interface CopyOptions {
  /** Added to heading levels (h1 → h3 with 2), so that the document's outline fits under the page's (max h6). */
  headingShift?: number;
}

/** Copies the allowed part of `source` (a parsed document's body) into `target`, in `doc`. */
export function copySafe(
  source: Node,
  target: Node,
  doc: Document,
  report: SanitizeReport = { removedElements: 0, removedAttributes: 0 },
  depth = 0,
  options: CopyOptions = {},
): SanitizeReport {
  if (depth > 100) return report;
  for (const child of Array.from(source.childNodes)) {
    if (child.nodeType === 3) {
      target.appendChild(doc.createTextNode(child.textContent ?? ''));
      continue;
    }
    if (child.nodeType !== 1) continue;
    const element = child as Element;
    const name = element.localName.toLowerCase();
    if (element.namespaceURI !== 'http://www.w3.org/1999/xhtml' || DROP.has(name)) {
      report.removedElements++;
      continue;
    }
    if (!ELEMENTS.has(name)) {
      // Unknown element: keep its content, not the element.
      report.removedElements++;
      copySafe(element, target, doc, report, depth + 1, options);
      continue;
    }
    const heading = /^h([1-6])$/.exec(name);
    const copy = doc.createElement(
      heading ? `h${Math.min(6, Number(heading[1]) + (options.headingShift ?? 0))}` : name,
    );
    for (const attribute of Array.from(element.attributes)) {
      const check = ATTRIBUTES[attribute.name.toLowerCase()];
      const value = check?.(attribute.value, name);
      if (value === undefined) report.removedAttributes++;
      else copy.setAttribute(attribute.name.toLowerCase(), value);
    }
    if (name === 'img' && !copy.hasAttribute('src')) {
      report.removedElements++;
      target.appendChild(doc.createTextNode(element.getAttribute('alt') ?? ''));
      continue;
    }
    copySafe(element, copy, doc, report, depth + 1, options);
    target.appendChild(copy);
  }
  return report;
}
