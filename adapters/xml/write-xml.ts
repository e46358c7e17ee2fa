// Safe XML writing: every text and attribute value is escaped, every name checked, and characters that XML 1.0
// cannot carry (U+0000, most C0 controls, lone surrogates, U+FFFE/U+FFFF) are refused with a precise error
// instead of producing a document the peer would reject.
import { XmlError, XmlErrorCode } from './xml-error.js';
import type { XmlElement, XmlNode } from './xml-tree.js';

/** An element to write. Build it with {@link el}. */
export interface XmlElementSpec {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string | number | boolean | null | undefined>>;
  readonly children: readonly XmlChild[];
}

/** Markup produced by this module (e.g. a serialized sub-tree) that is inserted as is. */
export interface XmlRawMarkup {
  readonly rawXml: string;
}

/** A child: an element, text (escaped), or nothing (null/undefined/false are skipped, to write optional parts inline). */
export type XmlChild = XmlElementSpec | XmlRawMarkup | string | number | null | undefined | false | readonly XmlChild[];

/**
 * An element. Attributes whose value is null/undefined are left out; arrays of children are flattened.
 * `el('rim:Slot', { name: 'creationTime' }, el('rim:ValueList', {}, el('rim:Value', {}, '20240101')))`.
 */
export function el(
  name: string,
  attributes: Readonly<Record<string, string | number | boolean | null | undefined>> = {},
  ...children: XmlChild[]
): XmlElementSpec {
  return { name, attributes, children };
}

// XML 1.0 Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
const INVALID_CHAR =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NAME =
  /^[A-Za-z_][A-Za-z0-9._\-\u00B7\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD]*(:[A-Za-z_][A-Za-z0-9._\-\u00B7\u00C0-\uFFFD]*)?$/;

function checkChars(value: string, where: string): void {
  const match = INVALID_CHAR.exec(value);
  if (match) {
    const code = match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new XmlError(
      XmlErrorCode.InvalidCharacter,
      `${where} contains U+${code} at index ${match.index}, which XML 1.0 cannot carry: remove it or send the value base64-encoded`,
    );
  }
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new XmlError(XmlErrorCode.InvalidName, `"${name}" is not a valid XML element or attribute name`);
  }
}

/** Escapes text content (`&`, `<`, `>`; `\r` as a character reference so it survives parsing). */
export function escapeText(value: string): string {
  checkChars(value, 'Text');
  return value.replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

/** Escapes an attribute value (quotes, markup characters, and tab/newline so they are not normalized away). */
export function escapeAttribute(value: string): string {
  checkChars(value, 'Attribute value');
  return value.replace(/[&<>"'\t\n\r]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      case '\t':
        return '&#9;';
      case '\n':
        return '&#10;';
      default:
        return '&#13;';
    }
  });
}

export interface SerializeOptions {
  /** Write `<?xml version="1.0" encoding="UTF-8"?>` first (default true). */
  declaration?: boolean;
}

/** Serializes an element spec to a string (UTF-8 is declared: encode the result with Buffer.from(s, 'utf8')). */
export function serializeXml(root: XmlElementSpec, options: SerializeOptions = {}): string {
  const parts: string[] = [];
  if (options.declaration ?? true) parts.push('<?xml version="1.0" encoding="UTF-8"?>');
  writeChild(root, parts);
  return parts.join('');
}

function writeChild(child: XmlChild, parts: string[]): void {
  if (child === null || child === undefined || child === false) return;
  if (typeof child === 'string') {
    parts.push(escapeText(child));
    return;
  }
  if (typeof child === 'number') {
    parts.push(String(child));
    return;
  }
  if (Array.isArray(child)) {
    for (const c of child as readonly XmlChild[]) writeChild(c, parts);
    return;
  }
  if ('rawXml' in (child as object)) {
    parts.push((child as XmlRawMarkup).rawXml);
    return;
  }
  const spec = child as XmlElementSpec;
  checkName(spec.name);
  parts.push('<', spec.name);
  for (const [name, value] of Object.entries(spec.attributes)) {
    if (value === null || value === undefined) continue;
    checkName(name);
    parts.push(' ', name, '="', escapeAttribute(String(value)), '"');
  }
  const children = spec.children.filter(
    (c) => c !== null && c !== undefined && c !== false && !(Array.isArray(c) && c.length === 0),
  );
  if (children.length === 0) {
    parts.push('/>');
    return;
  }
  parts.push('>');
  for (const c of children) writeChild(c, parts);
  parts.push('</', spec.name, '>');
}

/**
 * Serializes a parsed element (and its sub-tree) back to markup, declaring the namespaces it uses so the fragment
 * stands alone. Comments and processing instructions are dropped unless `keepPis` is set.
 */
export function serializeElement(element: XmlElement, options: { keepPis?: boolean } = {}): XmlRawMarkup {
  const parts: string[] = [];
  const inScope = new Map<string, string>();
  writeParsed(element, parts, inScope, options.keepPis ?? false);
  return { rawXml: parts.join('') };
}

function writeParsed(node: XmlNode, parts: string[], inScope: Map<string, string>, keepPis: boolean): void {
  switch (node.kind) {
    case 'text':
      parts.push(escapeText(node.value));
      return;
    case 'comment':
      return;
    case 'pi':
      if (keepPis) parts.push(`<?${node.target} ${node.body}?>`);
      return;
    case 'element': {
      const declared = new Map(inScope);
      const declarations: string[] = [];
      const declare = (prefix: string, uri: string) => {
        if (prefix === 'xml') return;
        if (declared.get(prefix) === uri) return;
        if (prefix === '' && uri === '' && !declared.has('')) return;
        declared.set(prefix, uri);
        declarations.push(prefix ? ` xmlns:${prefix}="${escapeAttribute(uri)}"` : ` xmlns="${escapeAttribute(uri)}"`);
      };
      declare(node.prefix, node.uri);
      for (const attr of node.attributes) if (attr.prefix) declare(attr.prefix, attr.uri);
      parts.push('<', node.qname, ...declarations);
      for (const attr of node.attributes) parts.push(' ', attr.qname, '="', escapeAttribute(attr.value), '"');
      if (node.children.length === 0) {
        parts.push('/>');
        return;
      }
      parts.push('>');
      for (const child of node.children) writeParsed(child, parts, declared, keepPis);
      parts.push('</', node.qname, '>');
      return;
    }
    default:
      node satisfies never;
  }
}
