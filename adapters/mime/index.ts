// adapters/mime: MSSanté mail — parse (attachments, IHE_XDM.ZIP, X-MSS-* headers, MDN/DSN) and compose. See README.md.
export * from './mail.js';
