// DICOM Upper Layer PDUs (PS3.8 §9.3): encoding and decoding, with every length checked.
// A decoding problem is a PduError carrying the A-ABORT reason the peer should receive.

export const PduType = {
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  PData: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
} as const;

export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';

/** A-ASSOCIATE-RJ result / source / reason (PS3.8 Table 9-21). */
export const RejectResult = { Permanent: 1, Transient: 2 } as const;
export const RejectSource = { ServiceUser: 1, ServiceProviderAcse: 2, ServiceProviderPresentation: 3 } as const;
export const RejectReason = {
  // source 1 (service user)
  NoReasonGiven: 1,
  ApplicationContextNotSupported: 2,
  CallingAeNotRecognized: 3,
  CalledAeNotRecognized: 7,
  // source 2 (ACSE): 2 = protocol version not supported
  ProtocolVersionNotSupported: 2,
  // source 3 (presentation)
  TemporaryCongestion: 1,
  LocalLimitExceeded: 2,
} as const;

/** A-ABORT source and reason (PS3.8 Table 9-26). */
export const AbortSource = { ServiceUser: 0, ServiceProvider: 2 } as const;
export const AbortReason = {
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  UnrecognizedPduParameter: 4,
  UnexpectedPduParameter: 5,
  InvalidPduParameterValue: 6,
} as const;

/** Presentation context results (PS3.8 Table 9-18). */
export const ContextResult = {
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
} as const;

export class PduError extends Error {
  override readonly name = 'PduError';
  constructor(
    message: string,
    readonly abortReason: number = AbortReason.InvalidPduParameterValue,
  ) {
    super(message);
  }
}

export interface ProposedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface AcceptedContext {
  id: number;
  result: number;
  /** The chosen transfer syntax (meaningful only when accepted). */
  transferSyntax: string;
}

export interface RoleSelection {
  sopClassUid: string;
  scu: boolean;
  scp: boolean;
}

export interface UserInformation {
  /** 0 means unlimited. */
  maxPduLength: number;
  implementationClassUid?: string;
  implementationVersionName?: string;
  roles: RoleSelection[];
  asyncOps?: { invoked: number; performed: number };
}

export interface AssociateRq {
  type: typeof PduType.AssociateRq;
  protocolVersion: number;
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContext: string;
  contexts: ProposedContext[];
  userInformation: UserInformation;
}

export interface AssociateAc {
  type: typeof PduType.AssociateAc;
  protocolVersion: number;
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContext: string;
  contexts: AcceptedContext[];
  userInformation: UserInformation;
}

export interface AssociateRj {
  type: typeof PduType.AssociateRj;
  result: number;
  source: number;
  reason: number;
}

export interface Pdv {
  contextId: number;
  command: boolean;
  last: boolean;
  data: Buffer;
}

export interface PData {
  type: typeof PduType.PData;
  pdvs: Pdv[];
}

export interface ReleaseRq {
  type: typeof PduType.ReleaseRq;
}
export interface ReleaseRp {
  type: typeof PduType.ReleaseRp;
}
export interface Abort {
  type: typeof PduType.Abort;
  source: number;
  reason: number;
}

export type Pdu = AssociateRq | AssociateAc | AssociateRj | PData | ReleaseRq | ReleaseRp | Abort;

/** An AE title: 1–16 characters of the default repertoire, no backslash or control characters. */
export function isValidAeTitle(title: string): boolean {
  return title.trim().length > 0 && title.length <= 16 && /^[\x20-\x5b\x5d-\x7e]+$/.test(title);
}

function aeField(title: string): Buffer {
  const b = Buffer.alloc(16, 0x20);
  b.write(title.slice(0, 16), 0, 'latin1');
  return b;
}

function uidItem(type: number, uid: string): Buffer {
  const value = Buffer.from(uid, 'latin1');
  const b = Buffer.alloc(4);
  b[0] = type;
  b.writeUInt16BE(value.length, 2);
  return Buffer.concat([b, value]);
}

function item(type: number, body: Buffer): Buffer {
  if (body.length > 0xffff) throw new RangeError(`PDU item 0x${type.toString(16)} is longer than 65535 bytes`);
  const b = Buffer.alloc(4);
  b[0] = type;
  b.writeUInt16BE(body.length, 2);
  return Buffer.concat([b, body]);
}

function pdu(type: number, body: Buffer): Buffer {
  const b = Buffer.alloc(6);
  b[0] = type;
  b.writeUInt32BE(body.length, 2);
  return Buffer.concat([b, body]);
}

function userInformationItem(info: UserInformation): Buffer {
  const subs: Buffer[] = [];
  const max = Buffer.alloc(4);
  max.writeUInt32BE(info.maxPduLength >>> 0, 0);
  subs.push(item(0x51, max));
  if (info.implementationClassUid) subs.push(uidItem(0x52, info.implementationClassUid));
  if (info.asyncOps) {
    const ops = Buffer.alloc(4);
    ops.writeUInt16BE(info.asyncOps.invoked, 0);
    ops.writeUInt16BE(info.asyncOps.performed, 2);
    subs.push(item(0x53, ops));
  }
  for (const role of info.roles) {
    const uid = Buffer.from(role.sopClassUid, 'latin1');
    const head = Buffer.alloc(2);
    head.writeUInt16BE(uid.length, 0);
    subs.push(item(0x54, Buffer.concat([head, uid, Buffer.from([role.scu ? 1 : 0, role.scp ? 1 : 0])])));
  }
  if (info.implementationVersionName)
    subs.push(item(0x55, Buffer.from(info.implementationVersionName.slice(0, 16), 'latin1')));
  return item(0x50, Buffer.concat(subs));
}

function associateHeader(protocolVersion: number, called: string, calling: string): Buffer {
  const b = Buffer.alloc(68);
  b.writeUInt16BE(protocolVersion, 0);
  aeField(called).copy(b, 4);
  aeField(calling).copy(b, 20);
  return b;
}

export function encodePdu(p: Pdu): Buffer {
  switch (p.type) {
    case PduType.AssociateRq: {
      const contexts = p.contexts.map((c) => {
        const head = Buffer.from([c.id, 0, 0, 0]);
        return item(
          0x20,
          Buffer.concat([head, uidItem(0x30, c.abstractSyntax), ...c.transferSyntaxes.map((t) => uidItem(0x40, t))]),
        );
      });
      return pdu(
        p.type,
        Buffer.concat([
          associateHeader(p.protocolVersion, p.calledAeTitle, p.callingAeTitle),
          uidItem(0x10, p.applicationContext),
          ...contexts,
          userInformationItem(p.userInformation),
        ]),
      );
    }
    case PduType.AssociateAc: {
      const contexts = p.contexts.map((c) =>
        item(0x21, Buffer.concat([Buffer.from([c.id, 0, c.result, 0]), uidItem(0x40, c.transferSyntax)])),
      );
      return pdu(
        p.type,
        Buffer.concat([
          associateHeader(p.protocolVersion, p.calledAeTitle, p.callingAeTitle),
          uidItem(0x10, p.applicationContext),
          ...contexts,
          userInformationItem(p.userInformation),
        ]),
      );
    }
    case PduType.AssociateRj:
      return pdu(p.type, Buffer.from([0, p.result, p.source, p.reason]));
    case PduType.PData: {
      const parts: Buffer[] = [];
      for (const pdv of p.pdvs) {
        const head = Buffer.alloc(6);
        head.writeUInt32BE(pdv.data.length + 2, 0);
        head[4] = pdv.contextId;
        head[5] = (pdv.command ? 1 : 0) | (pdv.last ? 2 : 0);
        parts.push(head, pdv.data);
      }
      return pdu(p.type, Buffer.concat(parts));
    }
    case PduType.ReleaseRq:
    case PduType.ReleaseRp:
      return pdu(p.type, Buffer.alloc(4));
    case PduType.Abort:
      return pdu(p.type, Buffer.from([0, 0, p.source, p.reason]));
    default:
      p satisfies never;
      throw new Error('unreachable');
  }
}

function readUid(body: Buffer, at: number, length: number): string {
  // UIDs may be padded with a NUL (old implementations) or spaces.
  return body.toString('latin1', at, at + length).replace(/[\0 ]+$/, '');
}

function readItems(
  body: Buffer,
  start: number,
  end: number,
  what: string,
): Array<{ type: number; at: number; length: number }> {
  const items: Array<{ type: number; at: number; length: number }> = [];
  let pos = start;
  while (pos < end) {
    if (pos + 4 > end) throw new PduError(`Truncated item header in ${what}`);
    const type = body[pos]!;
    const length = body.readUInt16BE(pos + 2);
    if (pos + 4 + length > end)
      throw new PduError(
        `Item 0x${type.toString(16)} in ${what} declares ${length} bytes, past the end of its container`,
      );
    items.push({ type, at: pos + 4, length });
    pos += 4 + length;
  }
  return items;
}

function readUserInformation(body: Buffer, at: number, length: number): UserInformation {
  const info: UserInformation = { maxPduLength: 0, roles: [] };
  for (const sub of readItems(body, at, at + length, 'User Information')) {
    switch (sub.type) {
      case 0x51:
        if (sub.length !== 4) throw new PduError('Maximum Length sub-item must be 4 bytes');
        info.maxPduLength = body.readUInt32BE(sub.at);
        break;
      case 0x52:
        info.implementationClassUid = readUid(body, sub.at, sub.length);
        break;
      case 0x53:
        if (sub.length === 4)
          info.asyncOps = { invoked: body.readUInt16BE(sub.at), performed: body.readUInt16BE(sub.at + 2) };
        break;
      case 0x54: {
        if (sub.length < 4) throw new PduError('SCP/SCU Role Selection sub-item is too short');
        const uidLength = body.readUInt16BE(sub.at);
        if (uidLength + 4 > sub.length) throw new PduError('SCP/SCU Role Selection UID runs past its sub-item');
        info.roles.push({
          sopClassUid: readUid(body, sub.at + 2, uidLength),
          scu: body[sub.at + 2 + uidLength] === 1,
          scp: body[sub.at + 3 + uidLength] === 1,
        });
        break;
      }
      case 0x55:
        info.implementationVersionName = body.toString('latin1', sub.at, sub.at + sub.length).trim();
        break;
      default:
        // Extended negotiation, user identity…: ignored (no reply means "not supported").
        break;
    }
  }
  return info;
}

/** Decodes one complete PDU (header included). */
export function decodePdu(buffer: Buffer): Pdu {
  const type = buffer[0]!;
  const length = buffer.readUInt32BE(2);
  const body = buffer.subarray(6, 6 + length);
  if (body.length !== length) throw new PduError('PDU is shorter than its declared length');
  switch (type) {
    case PduType.AssociateRq:
    case PduType.AssociateAc: {
      if (length < 68) throw new PduError('A-ASSOCIATE PDU is shorter than its fixed fields');
      const protocolVersion = body.readUInt16BE(0);
      const calledAeTitle = body.toString('latin1', 4, 20).trim();
      const callingAeTitle = body.toString('latin1', 20, 36).trim();
      let applicationContext = '';
      const proposed: ProposedContext[] = [];
      const accepted: AcceptedContext[] = [];
      let userInformation: UserInformation | undefined;
      for (const it of readItems(body, 68, length, 'A-ASSOCIATE')) {
        switch (it.type) {
          case 0x10:
            applicationContext = readUid(body, it.at, it.length);
            break;
          case 0x20: {
            if (type !== PduType.AssociateRq || it.length < 4)
              throw new PduError('Unexpected or short presentation context item', AbortReason.UnexpectedPduParameter);
            const context: ProposedContext = { id: body[it.at]!, abstractSyntax: '', transferSyntaxes: [] };
            for (const sub of readItems(body, it.at + 4, it.at + it.length, 'presentation context')) {
              if (sub.type === 0x30) context.abstractSyntax = readUid(body, sub.at, sub.length);
              else if (sub.type === 0x40) context.transferSyntaxes.push(readUid(body, sub.at, sub.length));
            }
            proposed.push(context);
            break;
          }
          case 0x21: {
            if (type !== PduType.AssociateAc || it.length < 4)
              throw new PduError('Unexpected or short presentation context item', AbortReason.UnexpectedPduParameter);
            const context: AcceptedContext = { id: body[it.at]!, result: body[it.at + 2]!, transferSyntax: '' };
            for (const sub of readItems(body, it.at + 4, it.at + it.length, 'presentation context')) {
              if (sub.type === 0x40) context.transferSyntax = readUid(body, sub.at, sub.length);
            }
            accepted.push(context);
            break;
          }
          case 0x50:
            userInformation = readUserInformation(body, it.at, it.length);
            break;
          default:
            throw new PduError(
              `Unknown item type 0x${it.type.toString(16)} in A-ASSOCIATE`,
              AbortReason.UnrecognizedPduParameter,
            );
        }
      }
      const common = {
        protocolVersion,
        calledAeTitle,
        callingAeTitle,
        applicationContext,
        userInformation: userInformation ?? { maxPduLength: 0, roles: [] },
      };
      return type === PduType.AssociateRq
        ? { type, ...common, contexts: proposed }
        : { type, ...common, contexts: accepted };
    }
    case PduType.AssociateRj:
      if (length < 4) throw new PduError('A-ASSOCIATE-RJ is too short');
      return { type, result: body[1]!, source: body[2]!, reason: body[3]! };
    case PduType.PData: {
      const pdvs: Pdv[] = [];
      let pos = 0;
      while (pos < length) {
        if (pos + 6 > length) throw new PduError('Truncated PDV header in P-DATA-TF');
        const pdvLength = body.readUInt32BE(pos);
        if (pdvLength < 2 || pos + 4 + pdvLength > length)
          throw new PduError(`PDV declares ${pdvLength} bytes, past the end of its P-DATA-TF`);
        const header = body[pos + 5]!;
        pdvs.push({
          contextId: body[pos + 4]!,
          command: (header & 1) === 1,
          last: (header & 2) === 2,
          data: body.subarray(pos + 6, pos + 4 + pdvLength),
        });
        pos += 4 + pdvLength;
      }
      if (pdvs.length === 0) throw new PduError('P-DATA-TF without any PDV');
      return { type, pdvs };
    }
    case PduType.ReleaseRq:
      return { type };
    case PduType.ReleaseRp:
      return { type };
    case PduType.Abort:
      return { type, source: body[2] ?? 0, reason: body[3] ?? 0 };
    default:
      throw new PduError(
        `Unrecognized PDU type 0x${type.toString(16).padStart(2, '0')}: this port speaks the DICOM upper layer protocol`,
        AbortReason.UnrecognizedPdu,
      );
  }
}
