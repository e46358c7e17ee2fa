// CDA narrative body → safe HTML for the UI.
//
// Built by walking the parsed tree with an allow-list, never by transforming markup as text:
//   - only known CDA narrative elements become HTML, each mapped to a fixed HTML element;
//   - only a few attributes survive (colspan/rowspan as numbers, align/valign/scope from fixed sets, styleCode as
//     fixed class names); no event handler, no style, no id from the document (anchors are prefixed);
//   - nothing is fetched: external links are shown as text, renderMultiMedia becomes inline data: images only for
//     PNG/JPEG/GIF carried in the document, a placeholder otherwise; <?xml-stylesheet?> is ignored;
//   - elements outside urn:hl7-org:v3 (e.g. an XHTML <script>) are dropped with their content; unknown CDA
//     elements keep their text only.
import {
  attribute,
  childElement,
  childElements,
  textContent,
  type XmlDocument,
  type XmlElement,
  type XmlNode,
} from '../xml/index.js';
import { V3, readCdaHeader, type CdaHeader } from './cda-header.js';

export interface RenderOptions {
  /** Include a header block (title, patient, authors, date). Default true. */
  header?: boolean;
  /** Maximum section nesting rendered (default 6). Deeper sections are flattened. */
  maxSectionDepth?: number;
  /** Largest inline image rendered as data: URI, in bytes (default 2 MiB). */
  maxInlineImageBytes?: number;
}

export interface RenderedNarrative {
  html: string;
  /** Section titles in document order (nested ones included). */
  sectionTitles: string[];
  /** What was removed or neutralized, for the integration console (never shown to clinicians as content). */
  notes: string[];
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const STYLE_CLASSES: Record<string, string> = {
  Bold: 'cda-bold',
  Underline: 'cda-underline',
  Italics: 'cda-italics',
  Emphasis: 'cda-emphasis',
  Lrule: 'cda-lrule',
  Rrule: 'cda-rrule',
  Toprule: 'cda-toprule',
  Botrule: 'cda-botrule',
  Arabic: 'cda-arabic',
  LittleRoman: 'cda-little-roman',
  BigRoman: 'cda-big-roman',
  LittleAlpha: 'cda-little-alpha',
  BigAlpha: 'cda-big-alpha',
  Disc: 'cda-disc',
  Circle: 'cda-circle',
  Square: 'cda-square',
};

const TABLE_ELEMENTS = new Set(['table', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'caption', 'col', 'colgroup']);
const ALIGN = new Set(['left', 'center', 'right', 'justify', 'char']);
const VALIGN = new Set(['top', 'middle', 'bottom', 'baseline']);
const SCOPE = new Set(['row', 'col', 'rowgroup', 'colgroup']);
/** Elements removed with their content whatever their namespace. */
const DROPPED = new Set([
  'script',
  'style',
  'iframe',
  'object',
  'embed',
  'frame',
  'frameset',
  'applet',
  'meta',
  'link',
  'base',
  'form',
  'svg',
  'math',
]);
const SAFE_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif']);

function safeId(id: string): string {
  return 'cda-' + id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

class Renderer {
  readonly notes: string[] = [];
  readonly sectionTitles: string[] = [];
  private readonly media = new Map<string, XmlElement>();

  constructor(
    private readonly root: XmlElement,
    private readonly options: Required<RenderOptions>,
  ) {
    // observationMedia elements by ID, for renderMultiMedia.
    const stack: XmlElement[] = [root];
    while (stack.length) {
      const el = stack.pop()!;
      if (el.uri === V3 && el.local === 'observationMedia') {
        const id = attribute(el, 'ID');
        if (id) this.media.set(id, el);
      }
      for (const c of el.children) if (c.kind === 'element') stack.push(c);
    }
  }

  classes(el: XmlElement): string {
    const styleCode = attribute(el, 'styleCode');
    if (!styleCode) return '';
    const classes = styleCode
      .split(/\s+/)
      .map((s) => STYLE_CLASSES[s])
      .filter(Boolean);
    return classes.length ? ` class="${classes.join(' ')}"` : '';
  }

  anchor(el: XmlElement): string {
    const id = attribute(el, 'ID');
    return id ? ` id="${safeId(id)}"` : '';
  }

  children(el: XmlElement): string {
    return el.children.map((c) => this.node(c)).join('');
  }

  node(node: XmlNode): string {
    switch (node.kind) {
      case 'text':
        return escapeHtml(node.value);
      case 'comment':
        return '';
      case 'pi':
        this.notes.push(`processing instruction <?${node.target}?> ignored`);
        return '';
      case 'element':
        return this.element(node);
      default:
        node satisfies never;
        return '';
    }
  }

  element(el: XmlElement): string {
    if (DROPPED.has(el.local.toLowerCase())) {
      this.notes.push(`element <${el.local}> removed with its content`);
      return '';
    }
    if (el.uri !== V3) {
      this.notes.push(`element {${el.uri}}${el.local} removed with its content (not CDA narrative)`);
      return '';
    }
    switch (el.local) {
      case 'content':
        return `<span${this.anchor(el)}${this.classes(el)}>${this.children(el)}</span>`;
      case 'paragraph':
        return `<p${this.anchor(el)}${this.classes(el)}>${this.children(el)}</p>`;
      case 'br':
        return '<br>';
      case 'sub':
      case 'sup':
        return `<${el.local}>${escapeHtml(textContent(el))}</${el.local}>`;
      case 'list': {
        const tag = attribute(el, 'listType') === 'ordered' ? 'ol' : 'ul';
        const caption = childElement(el, V3, 'caption');
        const items = childElements(el, V3, 'item')
          .map((i) => `<li${this.anchor(i)}${this.classes(i)}>${this.children(i)}</li>`)
          .join('');
        return `${caption ? `<p class="cda-caption">${this.children(caption)}</p>` : ''}<${tag}${this.anchor(el)}${this.classes(el)}>${items}</${tag}>`;
      }
      case 'item':
        return `<div>${this.children(el)}</div>`;
      case 'caption':
        return `<p class="cda-caption">${this.children(el)}</p>`;
      case 'linkHtml':
        return this.link(el);
      case 'footnote':
        return `<small class="cda-footnote"${this.anchor(el)}>[${this.children(el)}]</small>`;
      case 'footnoteRef': {
        const ref = attribute(el, 'IDREF');
        return ref ? `<sup class="cda-footnote-ref"><a href="#${safeId(ref)}">*</a></sup>` : '';
      }
      case 'renderMultiMedia':
        return this.multimedia(el);
      default:
        if (TABLE_ELEMENTS.has(el.local)) return this.tableElement(el);
        this.notes.push(`unknown narrative element <${el.local}> rendered as text`);
        return escapeHtml(textContent(el));
    }
  }

  tableElement(el: XmlElement): string {
    let attrs = this.anchor(el) + this.classes(el);
    for (const name of ['colspan', 'rowspan', 'span']) {
      const v = attribute(el, name);
      if (v && /^\d{1,3}$/.test(v)) attrs += ` ${name}="${v}"`;
    }
    const align = attribute(el, 'align');
    if (align && ALIGN.has(align)) attrs += ` align="${align}"`;
    const valign = attribute(el, 'valign');
    if (valign && VALIGN.has(valign)) attrs += ` valign="${valign}"`;
    const scope = attribute(el, 'scope');
    if (scope && SCOPE.has(scope)) attrs += ` scope="${scope}"`;
    if (el.local === 'col') return `<col${attrs}>`;
    // Inside tables only table structure and cell content are meaningful; text between rows is whitespace.
    const inner = ['table', 'thead', 'tbody', 'tfoot', 'tr', 'colgroup'].includes(el.local)
      ? el.children.map((c) => (c.kind === 'element' ? this.element(c) : '')).join('')
      : this.children(el);
    return `<${el.local}${attrs}>${inner}</${el.local}>`;
  }

  link(el: XmlElement): string {
    const href = (attribute(el, 'href') ?? '').trim();
    const text = this.children(el);
    if (href.startsWith('#') && href.length > 1) return `<a href="#${safeId(href.slice(1))}">${text}</a>`;
    if (/^(https?|mailto):/i.test(href)) {
      this.notes.push(`external link to ${href} shown as text`);
      return `<span class="cda-link">${text}</span> <span class="cda-link-target">(${escapeHtml(href)})</span>`;
    }
    if (href) this.notes.push(`link with scheme "${href.split(':')[0]}" removed`);
    return `<span class="cda-link">${text}</span>`;
  }

  multimedia(el: XmlElement): string {
    const refs = (attribute(el, 'referencedObject') ?? '').split(/\s+/).filter(Boolean);
    const caption = childElement(el, V3, 'caption');
    const captionText = caption ? textContent(caption).trim() : '';
    const parts: string[] = [];
    for (const ref of refs) {
      const media = this.media.get(ref);
      const value = media ? childElement(media, V3, 'value') : undefined;
      const mediaType = value ? (attribute(value, 'mediaType') ?? '').toLowerCase() : '';
      const reference = value ? childElement(value, V3, 'reference') : undefined;
      if (value && attribute(value, 'representation') === 'B64' && SAFE_IMAGE_TYPES.has(mediaType) && !reference) {
        const data = textContent(value).replace(/\s+/g, '');
        if (/^[A-Za-z0-9+/]+={0,2}$/.test(data) && (data.length * 3) / 4 <= this.options.maxInlineImageBytes) {
          parts.push(
            `<img class="cda-image" alt="${escapeHtml(captionText || ref)}" src="data:${mediaType};base64,${data}">`,
          );
          continue;
        }
      }
      this.notes.push(
        `multimedia ${ref} not displayed (${reference ? 'external reference, never fetched' : mediaType || 'not found'})`,
      );
      parts.push(`<span class="cda-multimedia">[${escapeHtml(captionText || `image ${ref}`)}]</span>`);
    }
    return parts.join('') || `<span class="cda-multimedia">[${escapeHtml(captionText || 'image')}]</span>`;
  }

  section(section: XmlElement, depth: number): string {
    const title = childElement(section, V3, 'title');
    const titleText = title ? textContent(title).replace(/\s+/g, ' ').trim() : '';
    if (titleText) this.sectionTitles.push(titleText);
    const heading = Math.min(2 + depth, 6);
    const text = childElement(section, V3, 'text');
    const nested = childElements(section, V3, 'component')
      .map((c) => childElement(c, V3, 'section'))
      .filter((s): s is XmlElement => !!s)
      .map((s) => this.section(s, Math.min(depth + 1, this.options.maxSectionDepth)));
    return (
      `<section class="cda-section"${this.anchor(section)}>` +
      (titleText ? `<h${heading}>${escapeHtml(titleText)}</h${heading}>` : '') +
      (text ? `<div class="cda-text">${this.children(text)}</div>` : '') +
      nested.join('') +
      '</section>'
    );
  }
}

/**
 * An HL7 v3 TS (`YYYY[MM[DD[HH[MM[SS[.S]]]]]][±ZZZZ]`) as a reader expects it on a French report: `15/07/1977`,
 * `02/01/2024 10:30 (UTC+01:00)`. Whatever is not a TS is shown as written, so nothing is hidden.
 */
export function formatCdaTime(value: string): string {
  const m = /^(\d{4})(\d{2})?(\d{2})?(?:(\d{2})(\d{2})?(?:\d{2}(?:\.\d+)?)?)?([+-]\d{4})?$/.exec(value.trim());
  if (!m) return value;
  const [, year, month, day, hour, minute, zone] = m;
  const date = [day, month, year].filter(Boolean).join('/');
  const time = hour ? ` ${hour}:${minute ?? '00'}` : '';
  const offset = zone && hour ? ` (UTC${zone.slice(0, 3)}:${zone.slice(3)})` : '';
  return `${date}${time}${offset}`;
}

function headerHtml(header: CdaHeader): string {
  const rows: [string, string | undefined][] = [
    ['Patient', header.patient.name?.text],
    ['Né(e) le', header.patient.birthTime && formatCdaTime(header.patient.birthTime)],
    [
      'Auteur',
      header.authors
        .map((a) => a.name?.text ?? a.device ?? a.organization?.name)
        .filter(Boolean)
        .join(', ') || undefined,
    ],
    ['Date', header.effectiveTime && formatCdaTime(header.effectiveTime)],
    ['Établissement', header.custodian?.name],
  ];
  return (
    '<header class="cda-header">' +
    `<h1>${escapeHtml(header.title ?? header.code?.displayName ?? 'Document')}</h1>` +
    '<dl>' +
    rows
      .filter(([, v]) => v)
      .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v!)}</dd>`)
      .join('') +
    '</dl></header>'
  );
}

/** Renders the body of a parsed CDA document to safe HTML. */
export function renderCdaHtml(doc: XmlDocument, options: RenderOptions = {}): RenderedNarrative {
  const opts: Required<RenderOptions> = {
    header: true,
    maxSectionDepth: 6,
    maxInlineImageBytes: 2 * 1024 * 1024,
    ...options,
  };
  const root = doc.root;
  const renderer = new Renderer(root, opts);
  for (const pi of doc.prolog)
    if (pi.kind === 'pi' && pi.target === 'xml-stylesheet')
      renderer.notes.push('xml-stylesheet ignored (stylesheets are never applied)');
  const parts: string[] = [];
  if (opts.header) parts.push(headerHtml(readCdaHeader(doc)));
  const body = childElement(childElement(root, V3, 'component') ?? root, V3, 'structuredBody');
  const nonXml = childElement(childElement(root, V3, 'component') ?? root, V3, 'nonXMLBody');
  if (body) {
    for (const component of childElements(body, V3, 'component')) {
      const section = childElement(component, V3, 'section');
      if (section) parts.push(renderer.section(section, 0));
    }
  } else if (nonXml) {
    parts.push(nonXmlHtml(nonXml, renderer.notes));
  } else {
    parts.push('<p class="cda-empty">Document sans corps.</p>');
  }
  return {
    html: `<article class="cda-document">${parts.join('')}</article>`,
    sectionTitles: renderer.sectionTitles,
    notes: renderer.notes,
  };
}

export interface NonXmlBody {
  mediaType: string;
  /** Decoded bytes when the body is inline (B64 or TXT). */
  bytes?: Buffer;
  /** reference/@value when the body is external (never fetched). */
  reference?: string;
}

/** Reads a nonXMLBody (an embedded PDF, plain text, image…) without fetching anything. */
export function readNonXmlBody(doc: XmlDocument): NonXmlBody | undefined {
  const nonXml = childElement(childElement(doc.root, V3, 'component') ?? doc.root, V3, 'nonXMLBody');
  const text = nonXml ? childElement(nonXml, V3, 'text') : undefined;
  if (!text) return undefined;
  const mediaType = attribute(text, 'mediaType') ?? 'text/plain';
  const reference = childElement(text, V3, 'reference');
  if (reference) return { mediaType, reference: attribute(reference, 'value') ?? '' };
  const representation = attribute(text, 'representation') ?? 'TXT';
  const raw = textContent(text);
  if (representation === 'B64') {
    const data = raw.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return { mediaType };
    return { mediaType, bytes: Buffer.from(data, 'base64') };
  }
  return { mediaType, bytes: Buffer.from(raw, 'utf8') };
}

function nonXmlHtml(nonXml: XmlElement, notes: string[]): string {
  const text = childElement(nonXml, V3, 'text');
  const mediaType = text ? (attribute(text, 'mediaType') ?? 'text/plain') : 'text/plain';
  const reference = text ? childElement(text, V3, 'reference') : undefined;
  if (reference) {
    notes.push('nonXMLBody reference not fetched');
    return `<p class="cda-attachment">Document externe (${escapeHtml(mediaType)}) : ${escapeHtml(attribute(reference, 'value') ?? '')}</p>`;
  }
  if (mediaType === 'text/plain' && text) {
    const representation = attribute(text, 'representation') ?? 'TXT';
    const content =
      representation === 'B64'
        ? Buffer.from(textContent(text).replace(/\s+/g, ''), 'base64').toString('utf8')
        : textContent(text);
    return `<pre class="cda-plain-text">${escapeHtml(content)}</pre>`;
  }
  return `<p class="cda-attachment">Document joint (${escapeHtml(mediaType)}) : ouvrir la pièce jointe.</p>`;
}
