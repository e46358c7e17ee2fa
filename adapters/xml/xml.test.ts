import { describe, expect, it } from 'vitest';
import {
  XmlErrorCode,
  XmlPushParser,
  attribute,
  childElement,
  childElements,
  descendantElements,
  el,
  escapeAttribute,
  escapeText,
  parseXml,
  resolveQName,
  serializeElement,
  serializeXml,
  textContent,
  type XmlError,
} from './index.js';

const RIM = 'urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0';

function xmlError(fn: () => unknown): XmlError {
  try {
    fn();
  } catch (error) {
    return error as XmlError;
  }
  throw new Error('expected an XmlError');
}

describe('parseXml: namespaces', () => {
  it('matches elements by namespace URI whatever the prefix', () => {
    const a = parseXml(
      `<rim:Slot xmlns:rim="${RIM}" name="x"><rim:ValueList><rim:Value>1</rim:Value></rim:ValueList></rim:Slot>`,
    );
    const b = parseXml(`<Slot xmlns="${RIM}" name="x"><ValueList><Value>1</Value></ValueList></Slot>`);
    for (const doc of [a, b]) {
      expect(doc.root.uri).toBe(RIM);
      expect(doc.root.local).toBe('Slot');
      expect(attribute(doc.root, 'name')).toBe('x');
      const list = childElement(doc.root, RIM, 'ValueList')!;
      expect(childElements(list, RIM, 'Value').map(textContent)).toEqual(['1']);
    }
    // Same local name in another namespace is not a match.
    const c = parseXml(`<Slot xmlns="urn:other"><ValueList/></Slot>`);
    expect(childElement(c.root, RIM, 'ValueList')).toBeUndefined();
  });

  it('resolves QName values and namespaced attributes', () => {
    const doc = parseXml(
      `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><value xsi:type="CD" code="1"/></ClinicalDocument>`,
    );
    const value = descendantElements(doc.root, 'urn:hl7-org:v3', 'value')[0]!;
    expect(attribute(value, 'type', 'http://www.w3.org/2001/XMLSchema-instance')).toBe('CD');
    expect(resolveQName(value, 'CD')).toEqual({ uri: 'urn:hl7-org:v3', local: 'CD' });
  });

  it('refuses an undeclared prefix', () => {
    expect(xmlError(() => parseXml('<a:b/>')).code).toBe(XmlErrorCode.UnboundPrefix);
  });
});

describe('parseXml: hostile input', () => {
  it('refuses XXE (external entity) with a DOCTYPE error, never reading the file', () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>';
    const error = xmlError(() => parseXml(xxe));
    expect(error.code).toBe(XmlErrorCode.DoctypeForbidden);
    expect(error.message).toContain('remove the <!DOCTYPE');
    expect(error.message).not.toContain('root:');
  });

  it('refuses billion laughs', () => {
    const lol =
      '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
      '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>';
    expect(xmlError(() => parseXml(lol)).code).toBe(XmlErrorCode.DoctypeForbidden);
  });

  it('refuses a DOCTYPE without internal subset too (no DTD is ever fetched)', () => {
    expect(xmlError(() => parseXml('<!DOCTYPE html SYSTEM "http://example.org/x.dtd"><html/>')).code).toBe(
      XmlErrorCode.DoctypeForbidden,
    );
  });

  it('refuses an undefined entity reference', () => {
    const error = xmlError(() => parseXml('<r>&nbsp;</r>'));
    expect(error.code).toBe(XmlErrorCode.UndefinedEntity);
    expect(error.line).toBe(1);
  });

  it('decodes the predefined entities and character references', () => {
    expect(textContent(parseXml('<r>&lt;&amp;&gt;&quot;&apos;&#233;&#x1F600;</r>').root)).toBe(`<&>"'é😀`);
  });

  it('enforces the depth limit without recursion', () => {
    const depth = 10_000;
    const deep = '<a>'.repeat(depth) + '</a>'.repeat(depth);
    const error = xmlError(() => parseXml(deep));
    expect(error.code).toBe(XmlErrorCode.TooDeep);
    // A document within a raised limit parses.
    expect(parseXml('<a>'.repeat(300) + '</a>'.repeat(300), { limits: { maxDepth: 400 } }).root.local).toBe('a');
  });

  it('enforces the attribute-count limit', () => {
    const attrs = Array.from({ length: 300 }, (_, i) => `a${i}="1"`).join(' ');
    expect(xmlError(() => parseXml(`<r ${attrs}/>`)).code).toBe(XmlErrorCode.TooManyAttributes);
    expect(parseXml(`<r ${attrs}/>`, { limits: { maxAttributesPerElement: 300 } }).root.attributes).toHaveLength(300);
  });

  it('enforces the element-count limit', () => {
    const many = `<r>${'<i/>'.repeat(101)}</r>`;
    expect(xmlError(() => parseXml(many, { limits: { maxElements: 100 } })).code).toBe(XmlErrorCode.TooManyElements);
  });

  it('enforces the size limit while bytes arrive, before the end', () => {
    const parser = new XmlPushParser({ limits: { maxBytes: 1000 } });
    parser.write(Buffer.from('<r>' + 'x'.repeat(900)));
    const error = xmlError(() => parser.write(Buffer.from('y'.repeat(200))));
    expect(error.code).toBe(XmlErrorCode.TooLarge);
  });

  it('reports malformed XML with its position', () => {
    const error = xmlError(() => parseXml('<r>\n  <a>\n</r>'));
    expect(error.code).toBe(XmlErrorCode.NotWellFormed);
    expect(error.line).toBe(3);
    expect(xmlError(() => parseXml('"<?xml version="1.0"?><r/>"')).code).toBe(XmlErrorCode.NotWellFormed);
    expect(xmlError(() => parseXml('<r/><r/>')).code).toBe(XmlErrorCode.NotWellFormed);
    expect(xmlError(() => parseXml('<r a="1" a="2"/>')).code).toBe(XmlErrorCode.NotWellFormed);
    expect(xmlError(() => parseXml('<r>')).code).toBe(XmlErrorCode.NotWellFormed);
  });

  it('reports empty input', () => {
    expect(xmlError(() => parseXml('')).code).toBe(XmlErrorCode.Empty);
    expect(xmlError(() => parseXml(Buffer.alloc(0))).code).toBe(XmlErrorCode.Empty);
    expect(xmlError(() => parseXml('   \n')).code).toBe(XmlErrorCode.Empty);
  });
});

describe('parseXml: encodings', () => {
  it('refuses invalid UTF-8 instead of replacing it', () => {
    const bytes = Buffer.concat([Buffer.from('<r>caf'), Buffer.from([0xe9]), Buffer.from('</r>')]);
    const error = xmlError(() => parseXml(bytes));
    expect(error.code).toBe(XmlErrorCode.InvalidEncoding);
    expect(error.message).toContain('offset 6');
  });

  it('decodes ISO-8859-1 when declared', () => {
    const bytes = Buffer.concat([
      Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><r>caf'),
      Buffer.from([0xe9]),
      Buffer.from('</r>'),
    ]);
    const doc = parseXml(bytes);
    expect(textContent(doc.root)).toBe('café');
  });

  it('decodes UTF-16 with a BOM, and UTF-8 with a BOM', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<r>é</r>', 'utf16le')]);
    expect(textContent(parseXml(utf16).root)).toBe('é');
    expect(parseXml(utf16).encoding).toBe('utf-16le');
    const utf8bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<r>é</r>')]);
    expect(textContent(parseXml(utf8bom).root)).toBe('é');
  });

  it('refuses an unknown encoding and non-ASCII bytes in a US-ASCII document', () => {
    expect(xmlError(() => parseXml(Buffer.from('<?xml version="1.0" encoding="x-klingon"?><r/>'))).code).toBe(
      XmlErrorCode.UnsupportedEncoding,
    );
    const ascii = Buffer.concat([
      Buffer.from('<?xml version="1.0" encoding="US-ASCII"?><r>'),
      Buffer.from([0xc3, 0xa9]),
      Buffer.from('</r>'),
    ]);
    expect(xmlError(() => parseXml(ascii)).code).toBe(XmlErrorCode.InvalidEncoding);
  });

  it('decodes a multi-byte character split across chunks', () => {
    const bytes = Buffer.from('<r>' + 'é'.repeat(700) + '</r>');
    const parser = new XmlPushParser();
    for (let i = 0; i < bytes.length; i += 7) parser.write(bytes.subarray(i, i + 7));
    expect(textContent(parser.end().root)).toBe('é'.repeat(700));
  });
});

describe('writing XML', () => {
  it('escapes text and attributes so that a round trip gives the same values', () => {
    const hostile = `</Value><Value>injected</Value> & "quotes" 'apos' \t\n\r`;
    const xml = serializeXml(el('r', { v: hostile }, el('t', {}, hostile)));
    const doc = parseXml(xml);
    expect(attribute(doc.root, 'v')).toBe(hostile);
    expect(textContent(childElement(doc.root, '', 't')!)).toBe(hostile);
    expect(childElements(doc.root)).toHaveLength(1);
  });

  it('refuses characters XML cannot carry and invalid names', () => {
    expect(xmlError(() => escapeText('a\u0000b')).code).toBe(XmlErrorCode.InvalidCharacter);
    expect(xmlError(() => escapeAttribute('\uD800')).code).toBe(XmlErrorCode.InvalidCharacter);
    expect(xmlError(() => serializeXml(el('a b'))).code).toBe(XmlErrorCode.InvalidName);
    expect(xmlError(() => serializeXml(el('r', { 'x"=': '1' }))).code).toBe(XmlErrorCode.InvalidName);
    expect(escapeText('😀')).toBe('😀');
  });

  it('skips null/undefined attributes and children, flattens arrays', () => {
    expect(serializeXml(el('r', { a: undefined, b: 1 }, null, [el('x'), 'y'], false), { declaration: false })).toBe(
      '<r b="1"><x/>y</r>',
    );
  });

  it('serializes a parsed sub-tree with the namespace declarations it needs', () => {
    const doc = parseXml(
      `<env xmlns:rim="${RIM}"><rim:Slot name="a"><rim:Value>x &amp; y</rim:Value></rim:Slot></env>`,
    );
    const slot = childElement(doc.root, RIM, 'Slot')!;
    const markup = serializeElement(slot).rawXml;
    expect(markup).toBe(`<rim:Slot xmlns:rim="${RIM}" name="a"><rim:Value>x &amp; y</rim:Value></rim:Slot>`);
    const again = parseXml(markup);
    expect(again.root.uri).toBe(RIM);
  });
});
