// A small namespace-aware XML tree and the helpers to read it.
// Elements are matched by (namespace URI, local name), never by prefix: `<rim:Slot>`, `<Slot xmlns="…rim:3.0">`
// and `<ns2:Slot>` are the same element when their namespace is the same.

export interface XmlAttribute {
  /** Namespace URI ('' for an unprefixed attribute). */
  readonly uri: string;
  readonly local: string;
  readonly prefix: string;
  /** The attribute's name as written (`xsi:type`). */
  readonly qname: string;
  readonly value: string;
}

export interface XmlElement {
  readonly kind: 'element';
  /** Namespace URI ('' when the element is in no namespace). */
  readonly uri: string;
  readonly local: string;
  readonly prefix: string;
  /** The element's name as written (`rim:Slot`). */
  readonly qname: string;
  readonly attributes: readonly XmlAttribute[];
  readonly children: XmlNode[];
  /** Namespace declarations made on this element (prefix → URI; '' is the default namespace). */
  readonly namespaces: Readonly<Record<string, string>>;
  readonly parent: XmlElement | undefined;
  /** Position of the end of the start tag (1-based line). */
  readonly line: number;
  readonly column: number;
}

export interface XmlText {
  readonly kind: 'text';
  readonly value: string;
  /** True when the text came from a CDATA section. */
  readonly cdata: boolean;
}

export interface XmlProcessingInstruction {
  readonly kind: 'pi';
  readonly target: string;
  readonly body: string;
}

export interface XmlComment {
  readonly kind: 'comment';
  readonly value: string;
}

export type XmlNode = XmlElement | XmlText | XmlProcessingInstruction | XmlComment;

export interface XmlDocument {
  readonly root: XmlElement;
  /** Processing instructions and comments before the root (e.g. `<?xml-stylesheet …?>`). */
  readonly prolog: readonly (XmlProcessingInstruction | XmlComment)[];
  /** The encoding the bytes were decoded with ('utf-8', 'utf-16le', 'windows-1252', …). */
  readonly encoding: string;
  /** The XML declaration as written, if any. */
  readonly declaration: { version?: string; encoding?: string; standalone?: string } | undefined;
}

/** The element children of `element` (optionally only those named `{uri}local`). */
export function childElements(element: XmlElement, uri?: string, local?: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const node of element.children) {
    if (node.kind !== 'element') continue;
    if (uri !== undefined && node.uri !== uri) continue;
    if (local !== undefined && node.local !== local) continue;
    out.push(node);
  }
  return out;
}

/** The first child element named `{uri}local`, or undefined. */
export function childElement(element: XmlElement, uri: string, local: string): XmlElement | undefined {
  for (const node of element.children) {
    if (node.kind === 'element' && node.uri === uri && node.local === local) return node;
  }
  return undefined;
}

/** All descendant elements named `{uri}local`, in document order (the element itself excluded). */
export function descendantElements(element: XmlElement, uri: string, local: string): XmlElement[] {
  const out: XmlElement[] = [];
  // Iterative walk: a deep but legal document must not overflow the call stack.
  const pending: { el: XmlElement; index: number }[] = [{ el: element, index: 0 }];
  while (pending.length > 0) {
    const top = pending[pending.length - 1]!;
    if (top.index >= top.el.children.length) {
      pending.pop();
      continue;
    }
    const node = top.el.children[top.index++]!;
    if (node.kind !== 'element') continue;
    if (node.uri === uri && node.local === local) out.push(node);
    pending.push({ el: node, index: 0 });
  }
  return out;
}

/** Follows a path of `{uri}local` steps from `element`; undefined when a step is missing. */
export function elementAt(
  element: XmlElement,
  ...steps: readonly (readonly [string, string])[]
): XmlElement | undefined {
  let current: XmlElement | undefined = element;
  for (const [uri, local] of steps) {
    if (!current) return undefined;
    current = childElement(current, uri, local);
  }
  return current;
}

/** The value of attribute `local` (in namespace `uri`, '' by default), or undefined. */
export function attribute(element: XmlElement, local: string, uri = ''): string | undefined {
  for (const attr of element.attributes) {
    if (attr.local === local && attr.uri === uri) return attr.value;
  }
  return undefined;
}

/** The concatenated text of the element and its descendants (like DOM `textContent`). */
export function textContent(element: XmlElement): string {
  let out = '';
  const pending: XmlNode[] = [...element.children].reverse();
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (node.kind === 'text') out += node.value;
    else if (node.kind === 'element')
      for (let i = node.children.length - 1; i >= 0; i--) pending.push(node.children[i]!);
  }
  return out;
}

/** The element's direct text children only, concatenated. */
export function ownText(element: XmlElement): string {
  let out = '';
  for (const node of element.children) if (node.kind === 'text') out += node.value;
  return out;
}

/** Resolves a namespace prefix in the scope of `element` ('' = default namespace). */
export function lookupNamespace(element: XmlElement, prefix: string): string | undefined {
  if (prefix === 'xml') return 'http://www.w3.org/XML/1998/namespace';
  for (let el: XmlElement | undefined = element; el; el = el.parent) {
    const uri = el.namespaces[prefix];
    if (uri !== undefined) return uri;
  }
  return prefix === '' ? '' : undefined;
}

/** Resolves a QName-valued attribute or text (`xsi:type="hl7:CD"`) to `{uri, local}` in the element's scope. */
export function resolveQName(element: XmlElement, qname: string): { uri: string | undefined; local: string } {
  const colon = qname.indexOf(':');
  if (colon < 0) return { uri: lookupNamespace(element, ''), local: qname };
  return { uri: lookupNamespace(element, qname.slice(0, colon)), local: qname.slice(colon + 1) };
}

/** `{uri}local` for messages. */
export function clarkName(element: Pick<XmlElement, 'uri' | 'local'>): string {
  return element.uri ? `{${element.uri}}${element.local}` : element.local;
}
