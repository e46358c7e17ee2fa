// The client-side allow-list over CDA narrative HTML, fed hostile trees directly (a minimal DOM stands in for the
// browser's: the function only walks nodes and creates elements, so no HTML parser is needed to test it).
import { describe, expect, it } from 'vitest';
import { copySafe } from './safe-html.js';

const XHTML = 'http://www.w3.org/1999/xhtml';

class FakeText {
  readonly nodeType = 3;
  readonly childNodes: FakeNode[] = [];
  constructor(readonly textContent: string) {}
}

class FakeElement {
  readonly nodeType = 1;
  readonly childNodes: FakeNode[] = [];
  private readonly attrs = new Map<string, string>();
  constructor(
    readonly localName: string,
    readonly namespaceURI: string = XHTML,
  ) {}
  get attributes(): { name: string; value: string }[] {
    return [...this.attrs].map(([name, value]) => ({ name, value }));
  }
  getAttribute(name: string): string | null {
    return this.attrs.get(name) ?? null;
  }
  setAttribute(name: string, value: string): void {
    this.attrs.set(name, value);
  }
  hasAttribute(name: string): boolean {
    return this.attrs.has(name);
  }
  appendChild(child: FakeNode): FakeNode {
    this.childNodes.push(child);
    return child;
  }
}
type FakeNode = FakeText | FakeElement;

const doc = {
  createElement: (name: string) => new FakeElement(name),
  createTextNode: (text: string) => new FakeText(text),
};

function h(name: string, attrs: Record<string, string> = {}, ...children: (FakeNode | string)[]): FakeElement {
  const [local, ns] = name.startsWith('svg:') ? [name.slice(4), 'http://www.w3.org/2000/svg'] : [name, XHTML];
  const element = new FakeElement(local, ns);
  for (const [k, v] of Object.entries(attrs)) element.setAttribute(k, v);
  for (const child of children) element.appendChild(typeof child === 'string' ? new FakeText(child) : child);
  return element;
}

function html(node: FakeNode): string {
  if (node instanceof FakeText) return node.textContent.replace(/</g, '&lt;');
  const attrs = node.attributes.map((a) => ` ${a.name}="${a.value}"`).join('');
  return `<${node.localName}${attrs}>${node.childNodes.map(html).join('')}</${node.localName}>`;
}

function sanitize(body: FakeElement, options = {}) {
  const target = new FakeElement('div');
  const report = copySafe(
    body as unknown as Node,
    target as unknown as Node,
    doc as unknown as Document,
    undefined,
    0,
    options,
  );
  return { out: target.childNodes.map(html).join(''), report };
}

describe('copySafe (CDA narrative into the page)', () => {
  it('drops scripts, styles, frames, forms and foreign (SVG) content with what they hold', () => {
    const { out, report } = sanitize(
      h(
        'body',
        {},
        h('p', {}, 'avant'),
        h('script', {}, 'alert(1)'),
        h('style', {}, 'body{display:none}'),
        h('iframe', { src: 'https://evil.example/' }),
        h('form', { action: 'https://evil.example/' }, h('input', { name: 'x' })),
        h('svg:svg', {}, h('svg:script', {}, 'alert(2)')),
        h('p', {}, '<script>alert(3)</script> reste du texte'),
      ),
    );
    expect(out).toBe('<p>avant</p><p>&lt;script>alert(3)&lt;/script> reste du texte</p>');
    expect(report.removedElements).toBe(5);
  });

  it('removes event handlers, inline styles, javascript: and foreign links, and images from elsewhere', () => {
    const { out, report } = sanitize(
      h(
        'body',
        {},
        h('p', { onclick: 'alert(1)', style: 'position:fixed', class: 'cda-para evil' }, 'x'),
        h('a', { href: 'javascript:alert(1)' }, 'lien'),
        h('a', { href: 'https://evil.example/' }, 'dehors'),
        h('a', { href: '#cda-section-2' }, 'section 2'),
        h('img', { src: 'https://tracker.example/pixel.png', alt: 'radio' }),
        h('img', { src: 'data:image/png;base64,iVBORw0KGgo=', alt: 'ok', onerror: 'alert(1)' }),
        h('td', { colspan: '2; x', rowspan: '3' }, 'c'),
      ),
    );
    expect(out).toBe(
      '<p class="cda-para">x</p><a>lien</a><a>dehors</a><a href="#cda-section-2">section 2</a>radio' +
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="ok"></img><td rowspan="3">c</td>',
    );
    expect(report.removedAttributes).toBe(7);
  });

  it('keeps the text of unknown elements without the elements', () => {
    const { out } = sanitize(h('body', {}, h('blink', {}, h('marquee', {}, 'texte '), h('b', {}, 'gras'))));
    expect(out).toBe('texte <b>gras</b>');
  });

  it('shifts headings under the page’s outline and never past h6', () => {
    const body = h('body', {}, h('h1', {}, 'Titre'), h('h2', {}, 'Section'), h('h5', {}, 'Fin'), h('h6', {}, 'Note'));
    expect(sanitize(body).out).toBe('<h1>Titre</h1><h2>Section</h2><h5>Fin</h5><h6>Note</h6>');
    expect(sanitize(body, { headingShift: 2 }).out).toBe('<h3>Titre</h3><h4>Section</h4><h6>Fin</h6><h6>Note</h6>');
  });

  it('stops at 100 levels of nesting instead of overflowing the stack', () => {
    let inner: FakeElement = h('span', {}, 'fond');
    for (let i = 0; i < 20_000; i++) inner = h('div', {}, inner);
    const { out } = sanitize(h('body', {}, inner));
    expect(out.match(/<div>/g)).toHaveLength(101);
    expect(out).not.toContain('fond');
  });
});
