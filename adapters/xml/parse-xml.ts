// The one safe XML parsing entry point of the project.
//
// Built on saxes (a strict, namespace-aware, streaming XML 1.0 parser that never fetches anything and knows
// only the five predefined entities). On top of it:
//   - any DOCTYPE is refused before its content is looked at: no entity can be declared, so neither external
//     entities (XXE) nor entity expansion (billion laughs) are possible, and no DTD is ever fetched;
//   - limits on bytes, nesting depth, attributes per element and element count, enforced while bytes arrive;
//   - the character encoding comes from the BOM or the XML declaration and invalid bytes are an error
//     (never silently replaced by U+FFFD);
//   - every error is an XmlError with a code, a position and what to do.
import { TextDecoder } from 'node:util';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { XmlError, XmlErrorCode } from './xml-error.js';
import type { XmlComment, XmlDocument, XmlElement, XmlNode, XmlProcessingInstruction } from './xml-tree.js';

export interface XmlLimits {
  /** Maximum input size in bytes (default 64 MiB). */
  maxBytes: number;
  /** Maximum element nesting depth (default 256). */
  maxDepth: number;
  /** Maximum attributes (namespace declarations included) on one element (default 256). */
  maxAttributesPerElement: number;
  /** Maximum number of elements in the document (default 1,000,000). */
  maxElements: number;
}

export const DEFAULT_XML_LIMITS: Readonly<XmlLimits> = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxDepth: 256,
  maxAttributesPerElement: 256,
  maxElements: 1_000_000,
});

export interface XmlParseOptions {
  limits?: Partial<XmlLimits>;
  /** Keep comments in the tree (default false). */
  keepComments?: boolean;
  /** Name used in error messages (a file name, "ITI-41 request"…). */
  source?: string;
  /**
   * Encoding to use when neither a BOM nor an XML declaration names one (default 'utf-8', as XML 1.0 says).
   * Useful for transports that carry the charset out of band (a MIME `charset=` parameter).
   */
  defaultEncoding?: string;
  /**
   * Prefixes treated as declared when a document uses them without declaring them (e.g. `xsi` in CDA documents
   * that forget xmlns:xsi). Only fills gaps: a declaration in the document wins.
   */
  additionalNamespaces?: Record<string, string>;
}

const UTF8 = 'utf-8';

/** Parses a whole XML document from bytes or a string. Throws {@link XmlError}. */
export function parseXml(input: Uint8Array | string, options: XmlParseOptions = {}): XmlDocument {
  const parser = new XmlPushParser(options);
  parser.write(input);
  return parser.end();
}

/**
 * Incremental parser: feed chunks as they arrive (`write`), get the tree at `end()`. Limits are checked on every
 * chunk, so an oversized or hostile body is refused before it has all been read.
 */
export class XmlPushParser {
  private readonly limits: XmlLimits;
  private readonly options: XmlParseOptions;
  private readonly sax: SaxesParser<{ xmlns: true; position: true }>;
  private bytesSeen = 0;
  private head: Uint8Array[] = [];
  private headLength = 0;
  private decoder: TextDecoder | undefined;
  private asciiOnly = false;
  private encoding = UTF8;
  private decodedOffset = 0;
  private sawContent = false;
  private readonly stack: { children: XmlNode[]; element?: XmlElement }[] = [];
  private root: XmlElement | undefined;
  private readonly prolog: (XmlProcessingInstruction | XmlComment)[] = [];
  private elementCount = 0;
  private finished = false;

  constructor(options: XmlParseOptions = {}) {
    this.options = options;
    this.limits = { ...DEFAULT_XML_LIMITS, ...options.limits };
    this.sax = new SaxesParser({
      xmlns: true,
      position: true,
      ...(options.additionalNamespaces ? { additionalNamespaces: options.additionalNamespaces } : {}),
    });
    this.stack.push({ children: [] });
    this.wire();
  }

  /** Feeds a chunk: bytes (decoded per BOM/declaration) or an already-decoded string. */
  write(chunk: Uint8Array | string): this {
    if (this.finished) throw new Error('XmlPushParser.write after end()');
    if (typeof chunk === 'string') {
      this.countBytes(Buffer.byteLength(chunk, 'utf8'));
      if (this.head.length > 0) throw new Error('XmlPushParser: do not mix byte and string chunks');
      if (!this.decoder) {
        this.decoder = new TextDecoder(UTF8); // marks the stream as text; never used to decode
        this.encoding = 'string';
      }
      this.feed(this.decodedOffset === 0 ? stripBom(chunk) : chunk);
      return this;
    }
    this.countBytes(chunk.byteLength);
    if (this.decoder) {
      this.feed(this.decode(chunk, true));
      return this;
    }
    // Keep the first bytes until the encoding can be told (BOM or XML declaration).
    this.head.push(chunk);
    this.headLength += chunk.byteLength;
    if (this.headLength >= 1024) this.startDecoding();
    return this;
  }

  /** Ends the input and returns the document. Throws {@link XmlError}. */
  end(): XmlDocument {
    if (this.finished) throw new Error('XmlPushParser.end called twice');
    if (!this.decoder) this.startDecoding();
    if (this.encoding !== 'string') this.feed(this.decode(new Uint8Array(0), false));
    this.finished = true;
    if (!this.root && !this.sawContent) {
      throw new XmlError(XmlErrorCode.Empty, `${this.sourceName()} is empty: send an XML document`);
    }
    this.guard(() => this.sax.close());
    if (!this.root)
      throw new XmlError(XmlErrorCode.Empty, `${this.sourceName()} has no root element: send an XML document`);
    return {
      root: this.root,
      prolog: this.prolog,
      encoding: this.encoding === 'string' ? UTF8 : this.encoding,
      declaration: this.sax.xmlDecl.version !== undefined ? { ...this.sax.xmlDecl } : undefined,
    };
  }

  private sourceName(): string {
    return this.options.source ?? 'The XML input';
  }

  private countBytes(n: number): void {
    this.bytesSeen += n;
    if (this.bytesSeen > this.limits.maxBytes) {
      throw new XmlError(
        XmlErrorCode.TooLarge,
        `${this.sourceName()} is larger than the limit of ${this.limits.maxBytes} bytes: split it or raise the limit`,
      );
    }
  }

  private startDecoding(): void {
    const head = Buffer.concat(this.head);
    this.head = [];
    const { encoding, bomLength } = detectEncoding(head, this.options.defaultEncoding);
    this.encoding = encoding;
    if (encoding === 'us-ascii') {
      this.asciiOnly = true;
      this.decoder = new TextDecoder(UTF8, { fatal: true });
    } else {
      try {
        this.decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: true });
      } catch {
        throw new XmlError(
          XmlErrorCode.UnsupportedEncoding,
          `${this.sourceName()} declares the encoding "${encoding}", which is not supported: send UTF-8 (or UTF-16, ISO-8859-1, windows-1252)`,
        );
      }
    }
    this.feed(this.decode(head.subarray(bomLength), true));
  }

  private decode(bytes: Uint8Array, stream: boolean): string {
    if (this.asciiOnly) {
      const bad = bytes.findIndex((b) => b > 0x7f);
      if (bad >= 0) {
        throw new XmlError(
          XmlErrorCode.InvalidEncoding,
          `${this.sourceName()} declares US-ASCII but byte ${bad} is 0x${bytes[bad]!.toString(16)}: declare the real encoding (UTF-8?)`,
        );
      }
    }
    try {
      return this.decoder!.decode(bytes, { stream });
    } catch {
      const offset = this.encoding === UTF8 || this.asciiOnly ? firstInvalidUtf8Offset(bytes) : -1;
      throw new XmlError(
        XmlErrorCode.InvalidEncoding,
        `${this.sourceName()} is not valid ${this.encoding}${offset >= 0 ? ` (first bad byte at offset ${offset} of the chunk)` : ''}: ` +
          'send it in the encoding its XML declaration names (UTF-8 when there is none)',
      );
    }
  }

  private feed(text: string): void {
    if (text.length === 0) return;
    this.decodedOffset += text.length;
    if (!this.sawContent && /\S/.test(text)) this.sawContent = true;
    this.guard(() => this.sax.write(text));
  }

  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      if (error instanceof XmlError) throw error;
      throw this.translate(error);
    }
  }

  private position(): { line: number; column: number } {
    return { line: this.sax.line, column: this.sax.column };
  }

  private translate(error: unknown): XmlError {
    const raw = error instanceof Error ? error.message : String(error);
    // saxes messages look like "file:12:5: message"; keep the message part, we add our own position.
    const message = raw.replace(/^[^:]*:\d+:\d+: /, '');
    if (/undefined entity/i.test(message)) {
      return new XmlError(
        XmlErrorCode.UndefinedEntity,
        `${this.sourceName()} uses an undefined entity (${message}): only &lt; &gt; &amp; &quot; &apos; and character references are allowed`,
        this.position(),
      );
    }
    if (/unbound namespace prefix/i.test(message)) {
      return new XmlError(
        XmlErrorCode.UnboundPrefix,
        `${this.sourceName()}: ${message}: declare the prefix with xmlns:prefix="…"`,
        this.position(),
      );
    }
    return new XmlError(
      XmlErrorCode.NotWellFormed,
      `${this.sourceName()} is not well-formed XML: ${message}`,
      this.position(),
    );
  }

  private wire(): void {
    const sax = this.sax;
    sax.on('error', (error) => {
      throw this.translate(error);
    });
    sax.on('doctype', () => {
      throw new XmlError(
        XmlErrorCode.DoctypeForbidden,
        `${this.sourceName()} contains a DOCTYPE declaration, which is refused (it could declare external or recursive entities): remove the <!DOCTYPE …> line`,
        this.position(),
      );
    });
    sax.on('opentagstart', (tag) => {
      if (this.stack.length > this.limits.maxDepth) {
        throw new XmlError(
          XmlErrorCode.TooDeep,
          `${this.sourceName()} nests elements deeper than ${this.limits.maxDepth} levels (at <${tag.name}>): flatten the document or raise the limit`,
          this.position(),
        );
      }
      this.elementCount++;
      if (this.elementCount > this.limits.maxElements) {
        throw new XmlError(
          XmlErrorCode.TooManyElements,
          `${this.sourceName()} has more than ${this.limits.maxElements} elements: split it or raise the limit`,
          this.position(),
        );
      }
    });
    sax.on('opentag', (tag) => this.openElement(tag as SaxesTagNS));
    sax.on('closetag', () => {
      const frame = this.stack.pop()!;
      if (this.stack.length === 1 && frame.element) this.root = frame.element;
    });
    sax.on('text', (text) => this.addText(text, false));
    sax.on('cdata', (text) => this.addText(text, true));
    sax.on('processinginstruction', (pi) => {
      const node: XmlProcessingInstruction = { kind: 'pi', target: pi.target, body: pi.body };
      if (this.stack.length === 1) this.prolog.push(node);
      else this.stack[this.stack.length - 1]!.children.push(node);
    });
    sax.on('comment', (value) => {
      if (!this.options.keepComments) return;
      const node: XmlComment = { kind: 'comment', value };
      if (this.stack.length === 1) this.prolog.push(node);
      else this.stack[this.stack.length - 1]!.children.push(node);
    });
  }

  private openElement(tag: SaxesTagNS): void {
    const parentFrame = this.stack[this.stack.length - 1]!;
    const attributeValues = Object.values(tag.attributes);
    if (attributeValues.length > this.limits.maxAttributesPerElement) {
      throw new XmlError(
        XmlErrorCode.TooManyAttributes,
        `${this.sourceName()}: <${tag.name}> has ${attributeValues.length} attributes, more than the limit of ${this.limits.maxAttributesPerElement}`,
        this.position(),
      );
    }
    const namespaces: Record<string, string> = {};
    const attributes = [];
    for (const attr of attributeValues) {
      if (attr.prefix === 'xmlns') {
        namespaces[attr.local] = attr.value;
        continue;
      }
      if (attr.prefix === '' && attr.local === 'xmlns') {
        namespaces[''] = attr.value;
        continue;
      }
      attributes.push({ uri: attr.uri, local: attr.local, prefix: attr.prefix, qname: attr.name, value: attr.value });
    }
    const element: XmlElement = {
      kind: 'element',
      uri: tag.uri,
      local: tag.local,
      prefix: tag.prefix,
      qname: tag.name,
      attributes,
      children: [],
      namespaces,
      parent: parentFrame.element,
      ...this.position(),
    };
    parentFrame.children.push(element);
    this.stack.push({ children: element.children, element }); // saxes emits closetag for self-closing tags too
  }

  private addText(value: string, cdata: boolean): void {
    if (this.stack.length === 1) return; // whitespace around the root; saxes reports other text as an error
    const children = this.stack[this.stack.length - 1]!.children;
    const last = children[children.length - 1];
    if (last && last.kind === 'text' && last.cdata === cdata) {
      children[children.length - 1] = { kind: 'text', value: last.value + value, cdata };
    } else {
      children.push({ kind: 'text', value, cdata });
    }
  }
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The encoding of an XML entity from its first bytes (XML 1.0 appendix F), and the BOM length to skip. */
export function detectEncoding(head: Uint8Array, fallback = UTF8): { encoding: string; bomLength: number } {
  const [b0, b1, b2, b3] = head;
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return { encoding: UTF8, bomLength: 3 };
  if (b0 === 0xff && b1 === 0xfe) return { encoding: 'utf-16le', bomLength: 2 };
  if (b0 === 0xfe && b1 === 0xff) return { encoding: 'utf-16be', bomLength: 2 };
  if (b0 === 0x3c && b1 === 0x00 && b2 === 0x3f && b3 === 0x00) return { encoding: 'utf-16le', bomLength: 0 };
  if (b0 === 0x00 && b1 === 0x3c && b2 === 0x00 && b3 === 0x3f) return { encoding: 'utf-16be', bomLength: 0 };
  // ASCII-compatible: read the declaration's encoding pseudo-attribute.
  const start = Buffer.from(head.subarray(0, Math.min(head.byteLength, 512))).toString('latin1');
  const declaration = /^\s*<\?xml\s[^>]*?encoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\1/.exec(start);
  if (!declaration) return { encoding: normalizeEncoding(fallback), bomLength: 0 };
  return { encoding: normalizeEncoding(declaration[2]!), bomLength: 0 };
}

function normalizeEncoding(label: string): string {
  const lower = label.trim().toLowerCase();
  if (lower === 'utf8' || lower === 'utf-8') return UTF8;
  if (lower === 'us-ascii' || lower === 'ascii') return 'us-ascii';
  if (lower === 'utf-16') return 'utf-16le'; // without a BOM: XML says the BOM is required; little-endian is what is met
  return lower;
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence, or -1. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need = 0;
    let min = 0;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= bytes.length) return i; // truncated sequence at the end
    let cp = b & (0xff >> (need + 2));
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}
