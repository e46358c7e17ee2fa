// The message header essentials, read from MSH.
import type { Hl7CodedElement, Hl7EntityIdentifier, Hl7HierarchicDesignator } from './datatypes.js';
import { readCwe, readEi, readHd } from './datatypes.js';
import type { Hl7Message } from './model.js';

/** MSH-9 (MSG): `ADT^A01^ADT_A01`. In v2.1/2.2 only the code (and trigger) are sent. */
export interface Hl7MessageType {
  code?: string;
  triggerEvent?: string;
  structure?: string;
}

/** MSH-12 (VID): `2.5`, or `2.5^FRA^2.11` for IHE PAM France. */
export interface Hl7VersionId {
  id?: string;
  /** VID-2, e.g. `FRA`. */
  internationalizationCode?: string;
  /** VID-3, e.g. `2.11`. */
  internationalVersionId?: string;
}

export interface Hl7Header {
  fieldSeparator: string;
  encodingCharacters: string;
  sendingApplication?: Hl7HierarchicDesignator;
  sendingFacility?: Hl7HierarchicDesignator;
  receivingApplication?: Hl7HierarchicDesignator;
  receivingFacility?: Hl7HierarchicDesignator;
  /** MSH-7 as sent; `message.getDateTime('MSH-7')` gives it in ISO form. */
  dateTime?: string;
  security?: string;
  messageType: Hl7MessageType;
  /** MSH-10, echoed in MSA-2 of the acknowledgment. */
  controlId?: string;
  /** MSH-11: P production, D debugging, T training; mode A/I/R/T/blank. */
  processingId?: { id?: string; mode?: string };
  version: Hl7VersionId;
  sequenceNumber?: string;
  continuationPointer?: string;
  /** MSH-15 (table 0155: AL, NE, ER, SU). Present ⇒ enhanced acknowledgment mode. */
  acceptAckType?: string;
  /** MSH-16 (table 0155). */
  applicationAckType?: string;
  countryCode?: string;
  /** MSH-18 repetitions as sent (the first is the charset of the message). */
  characterSets: string[];
  principalLanguage?: Hl7CodedElement;
  alternateCharacterSetHandlingScheme?: string;
  /** MSH-21 message profile identifiers. */
  profileIds: Hl7EntityIdentifier[];
}

function text(v: string | null | undefined): string | undefined {
  return v === null || v === undefined ? undefined : v;
}

export function readHeader(message: Hl7Message): Hl7Header {
  const msh = message.msh;
  const f = (n: number) => msh.field(n);
  const h: Hl7Header = {
    fieldSeparator: message.delimiters.field,
    encodingCharacters: message.delimiters.encodingCharacters,
    messageType: {},
    version: {},
    characterSets: [],
    profileIds: [],
  };
  const set = <K extends keyof Hl7Header>(k: K, v: Hl7Header[K] | undefined) => {
    if (v !== undefined) h[k] = v;
  };
  set('sendingApplication', readHd(f(3)));
  set('sendingFacility', readHd(f(4)));
  set('receivingApplication', readHd(f(5)));
  set('receivingFacility', readHd(f(6)));
  set('dateTime', text(f(7).get(1)));
  set('security', text(f(8).value));
  const type = f(9);
  const messageType: Hl7MessageType = {};
  if (text(type.get(1))) messageType.code = type.get(1)!;
  if (text(type.get(2))) messageType.triggerEvent = type.get(2)!;
  if (text(type.get(3))) messageType.structure = type.get(3)!;
  h.messageType = messageType;
  set('controlId', text(f(10).value));
  const pt = f(11);
  if (!pt.isEmpty) {
    const processingId: { id?: string; mode?: string } = {};
    if (text(pt.get(1))) processingId.id = pt.get(1)!;
    if (text(pt.get(2))) processingId.mode = pt.get(2)!;
    h.processingId = processingId;
  }
  const vid = f(12);
  if (text(vid.get(1))) h.version.id = vid.get(1)!;
  if (text(vid.get(2))) h.version.internationalizationCode = vid.get(2)!;
  if (text(vid.get(3))) h.version.internationalVersionId = vid.get(3)!;
  set('sequenceNumber', text(f(13).value));
  set('continuationPointer', text(f(14).value));
  set('acceptAckType', text(f(15).value));
  set('applicationAckType', text(f(16).value));
  set('countryCode', text(f(17).value));
  h.characterSets = f(18)
    .repetitions()
    .map((r) => r.value ?? '')
    .filter((v) => v !== '');
  set('principalLanguage', readCwe(f(19)));
  set('alternateCharacterSetHandlingScheme', text(f(20).value));
  h.profileIds = f(21)
    .repetitions()
    .map((r) => readEi(r))
    .filter((e): e is Hl7EntityIdentifier => e !== undefined);
  return h;
}
