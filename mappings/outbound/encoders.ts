// FHIR → HL7 v2 for outbound feeds: orders to a LIS (ORM^O01 or OML^O21) and ADT to a downstream system. Pure:
// the caller gives the resources, the control id and the time; the channel runtime sends the Hl7Message over
// MLLP and validates the ACK.
import type { Coding, Encounter, HumanName, Identifier, Patient, Practitioner, ServiceRequest, Specimen } from '@medplum/fhirtypes';
import { createHl7Message, repeat, type Hl7Message, type Hl7RepetitionInput } from '../../adapters/hl7v2/index.js';

export interface OutboundOptions {
  controlId: string;
  /** MSH-7; ISO-8601 or an HL7 date/time. */
  dateTime: string;
  sendingApplication?: string;
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
  /** MSH-12; `2.5` by default (ADT for PAM-FR: `{ id: '2.5', internationalizationCode: 'FRA', internationalVersionId: '2.11' }`). */
  version?: string | { id: string; internationalizationCode?: string; internationalVersionId?: string };
  /** MSH-18, default UNICODE UTF-8. */
  charset?: 'UNICODE UTF-8' | '8859/1' | 'ASCII';
}

export interface OrderMessageInput {
  structure: 'ORM^O01' | 'OML^O21';
  patient: Patient;
  order: ServiceRequest;
  encounter?: Encounter;
  requester?: Practitioner;
  specimens?: Specimen[];
}

export interface AdtMessageInput {
  /** Trigger event: A01, A02, A03, A04, A08, A11, A28, A31… */
  event: string;
  patient: Patient;
  encounter?: Encounter;
  attending?: Practitioner;
}

export class OutboundError extends Error {
  constructor(
    readonly code: 'OUTBOUND_MISSING_DATA',
    message: string,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

const OID = /^urn:oid:(.+)$/;

/** FHIR dateTime → HL7 DTM (`2024-03-05T10:00:00+01:00` → `20240305100000+0100`). */
export function toHl7DateTime(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(value);
  if (!m) return undefined;
  const tz = m[7] === 'Z' ? '+0000' : m[7] ? m[7].replace(':', '') : '';
  return `${m[1]}${m[2] ?? ''}${m[3] ?? ''}${m[4] ?? ''}${m[5] ?? ''}${m[4] ? (m[6] ?? '00') : ''}${m[4] ? tz : ''}`;
}

/** An Identifier as CX: value^^^namespace&OID&ISO^type. */
function cx(identifier: Identifier): Hl7RepetitionInput {
  const oid = identifier.system ? OID.exec(identifier.system)?.[1] : undefined;
  const namespace = identifier.assigner?.display ?? (identifier.system?.startsWith('urn:keney:v2-namespace:') ? identifier.system.slice(23) : undefined);
  const authority = oid ? [namespace ?? '', oid, 'ISO'] : namespace ? [namespace] : identifier.system ? ['', identifier.system, 'URI'] : '';
  return [identifier.value ?? '', '', '', authority, identifier.type?.coding?.[0]?.code ?? ''];
}

function xpn(name: HumanName): Hl7RepetitionInput {
  const type = name.use === 'official' ? 'L' : name.use === 'usual' ? 'D' : name.use === 'maiden' ? 'M' : name.use === 'nickname' ? 'N' : '';
  return [name.family ?? '', name.given?.[0] ?? '', name.given?.slice(1).join(' ') ?? '', name.suffix?.[0] ?? '', name.prefix?.[0] ?? '', '', type];
}

function ce(coding: Coding | undefined, text?: string): Hl7RepetitionInput {
  if (!coding) return text ? ['', text] : '';
  const system = coding.system === 'http://loinc.org' ? 'LN' : coding.system === 'http://snomed.info/sct' ? 'SCT' : coding.system?.startsWith('http://terminology.hl7.org/CodeSystem/v2-') ? `HL7${coding.system.slice(-4)}` : 'L';
  return [coding.code ?? '', coding.display ?? text ?? '', system];
}

function xcn(p: Practitioner | undefined): Hl7RepetitionInput {
  if (!p) return '';
  const id = p.identifier?.[0];
  const oid = id?.system ? OID.exec(id.system)?.[1] : undefined;
  const name = p.name?.[0];
  return [id?.value ?? '', name?.family ?? '', name?.given?.[0] ?? '', '', '', name?.prefix?.[0] ?? '', '', '', oid ? ['', oid, 'ISO'] : '', '', '', '', id?.type?.coding?.[0]?.code ?? ''];
}

function gender(g: Patient['gender']): string {
  return g === 'female' ? 'F' : g === 'male' ? 'M' : g === 'other' ? 'O' : g === 'unknown' ? 'U' : '';
}

function header(type: string, structure: string, options: OutboundOptions): Hl7Message {
  const [code, trigger] = type.split('^') as [string, string];
  return createHl7Message({
    messageType: { code, triggerEvent: trigger, structure },
    controlId: options.controlId,
    dateTime: toHl7DateTime(options.dateTime) ?? options.dateTime,
    version: options.version ?? '2.5',
    charset: options.charset ?? 'UNICODE UTF-8',
    acceptAckType: 'AL',
    applicationAckType: 'NE',
    ...(options.sendingApplication ? { sendingApplication: options.sendingApplication } : {}),
    ...(options.sendingFacility ? { sendingFacility: options.sendingFacility } : {}),
    ...(options.receivingApplication ? { receivingApplication: options.receivingApplication } : {}),
    ...(options.receivingFacility ? { receivingFacility: options.receivingFacility } : {}),
  });
}

function addPid(message: Hl7Message, patient: Patient): void {
  const ids = (patient.identifier ?? []).filter((i) => i.value);
  if (ids.length === 0) throw new OutboundError('OUTBOUND_MISSING_DATA', 'The Patient has no identifier: PID-3 is required. Add the IPP (or INS) to the Patient before sending.');
  const address = patient.address?.[0];
  message.addSegment('PID', [
    '1',
    '',
    repeat(...ids.map(cx)),
    '',
    repeat(...(patient.name ?? [{}]).map(xpn)),
    '',
    toHl7DateTime(patient.birthDate) ?? '',
    gender(patient.gender),
    '',
    '',
    address ? [address.line?.[0] ?? '', address.line?.[1] ?? '', address.city ?? '', address.state ?? '', address.postalCode ?? '', address.country ?? '', 'H'] : '',
  ]);
}

function addPv1(message: Hl7Message, encounter: Encounter | undefined, attending?: Practitioner): void {
  if (!encounter) return;
  const cls = encounter.class?.code === 'IMP' ? 'I' : encounter.class?.code === 'EMER' ? 'E' : encounter.class?.code === 'AMB' ? 'O' : 'U';
  const nda = encounter.identifier?.[0];
  const fields: (string | Hl7RepetitionInput)[] = new Array(45).fill('');
  fields[0] = '1';
  fields[1] = cls;
  fields[2] = encounter.location?.[0]?.location.display ?? '';
  fields[6] = xcn(attending);
  fields[18] = nda ? cx(nda) : '';
  fields[43] = toHl7DateTime(encounter.period?.start) ?? '';
  fields[44] = toHl7DateTime(encounter.period?.end) ?? '';
  message.addSegment('PV1', fields);
}

/** ORM^O01 (v2.5 ORC + OBR) or OML^O21 (ORC + OBR [+ SPM]) for a ServiceRequest. */
export function encodeOrderMessage(input: OrderMessageInput, options: OutboundOptions): Hl7Message {
  const order = input.order;
  const placer = order.identifier?.find((i) => i.type?.coding?.some((c) => c.code === 'PLAC')) ?? order.identifier?.[0];
  if (!placer?.value) throw new OutboundError('OUTBOUND_MISSING_DATA', 'The ServiceRequest has no placer identifier: ORC-2 is required. Give it an identifier of type PLAC.');
  const code = order.code?.coding?.[0];
  if (!code && !order.code?.text) throw new OutboundError('OUTBOUND_MISSING_DATA', 'The ServiceRequest has no code: OBR-4 (universal service id) is required.');
  const structure = input.structure === 'ORM^O01' ? 'ORM_O01' : 'OML_O21';
  const message = header(input.structure, structure, options);
  addPid(message, input.patient);
  addPv1(message, input.encounter);
  const control = order.status === 'revoked' ? 'CA' : order.status === 'on-hold' ? 'HD' : 'NW';
  const filler = order.identifier?.find((i) => i.type?.coding?.some((c) => c.code === 'FILL'));
  const ei = (i: Identifier | undefined): Hl7RepetitionInput => (i?.value ? [i.value, i.system?.startsWith('urn:keney:v2-namespace:') ? i.system.slice(23) : '', OID.exec(i.system ?? '')?.[1] ?? '', OID.test(i.system ?? '') ? 'ISO' : ''] : '');
  message.addSegment('ORC', [control, ei(placer), ei(filler), '', '', '', '', '', toHl7DateTime(order.authoredOn) ?? '', '', '', xcn(input.requester)]);
  const priority = order.priority === 'stat' ? 'S' : order.priority === 'asap' ? 'A' : order.priority === 'urgent' ? 'A' : 'R';
  const obr: (string | Hl7RepetitionInput)[] = new Array(27).fill('');
  obr[0] = '1';
  obr[1] = ei(placer);
  obr[2] = ei(filler);
  obr[3] = ce(code, order.code?.text);
  obr[4] = priority;
  obr[15] = xcn(input.requester);
  message.addSegment('OBR', obr);
  for (const note of order.note ?? []) if (note.text) message.addSegment('NTE', ['1', 'L', note.text]);
  if (input.structure === 'OML^O21') {
    for (const [i, specimen] of (input.specimens ?? []).entries()) {
      const sid = specimen.identifier?.[0]?.value ?? specimen.accessionIdentifier?.value ?? '';
      message.addSegment('SPM', [String(i + 1), sid ? [sid] : '', '', ce(specimen.type?.coding?.[0], specimen.type?.text), '', '', '', '', '', '', '', '', '', '', '', '', toHl7DateTime(specimen.collection?.collectedDateTime) ?? '']);
    }
  }
  return message;
}

/** ADT^Axx for a Patient (and its Encounter when the event is about a stay). */
export function encodeAdtMessage(input: AdtMessageInput, options: OutboundOptions): Hl7Message {
  if (!/^A\d{2}$/.test(input.event)) throw new OutboundError('OUTBOUND_MISSING_DATA', `"${input.event}" is not an ADT trigger event (A01…A62).`);
  const structure = ['A01', 'A04', 'A08', 'A13'].includes(input.event) ? 'ADT_A01' : ['A28', 'A31'].includes(input.event) ? 'ADT_A05' : ['A02'].includes(input.event) ? 'ADT_A02' : ['A03'].includes(input.event) ? 'ADT_A03' : 'ADT_A01';
  const message = header(`ADT^${input.event}`, structure, options);
  message.addSegment('EVN', ['', toHl7DateTime(options.dateTime) ?? '']);
  addPid(message, input.patient);
  if (input.encounter) addPv1(message, input.encounter, input.attending);
  else message.addSegment('PV1', ['1', 'N']);
  return message;
}
