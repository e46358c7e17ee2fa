// adapters/xml: the project's one safe XML entry point. See README.md.
export { XmlError, XmlErrorCode, isXmlError, type XmlErrorPosition } from './xml-error.js';
export {
  parseXml,
  XmlPushParser,
  DEFAULT_XML_LIMITS,
  detectEncoding,
  type XmlLimits,
  type XmlParseOptions,
} from './parse-xml.js';
export {
  attribute,
  childElement,
  childElements,
  clarkName,
  descendantElements,
  elementAt,
  lookupNamespace,
  ownText,
  resolveQName,
  textContent,
  type XmlAttribute,
  type XmlComment,
  type XmlDocument,
  type XmlElement,
  type XmlNode,
  type XmlProcessingInstruction,
  type XmlText,
} from './xml-tree.js';
export {
  el,
  escapeAttribute,
  escapeText,
  serializeElement,
  serializeXml,
  type SerializeOptions,
  type XmlChild,
  type XmlElementSpec,
  type XmlRawMarkup,
} from './write-xml.js';
