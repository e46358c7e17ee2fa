import { describe, expect, it } from 'vitest';
import { SopClass, TransferSyntax } from '../../../adapters/dicom/uids.js';
import { negotiate } from './negotiation.js';
import {
  APPLICATION_CONTEXT,
  ContextResult,
  decodePdu,
  encodePdu,
  PduError,
  PduType,
  RejectReason,
  RejectSource,
  type AssociateRq,
  type Pdu,
} from './pdu.js';

const rq = (overrides: Partial<AssociateRq> = {}): AssociateRq => ({
  type: PduType.AssociateRq,
  protocolVersion: 1,
  calledAeTitle: 'KENEY',
  callingAeTitle: 'MODALITY',
  applicationContext: APPLICATION_CONTEXT,
  contexts: [
    {
      id: 1,
      abstractSyntax: '1.2.840.10008.5.1.4.1.1.2',
      transferSyntaxes: [TransferSyntax.JPEGLosslessSV1, TransferSyntax.ExplicitVRLittleEndian],
    },
    {
      id: 3,
      abstractSyntax: SopClass.StudyRootFind,
      transferSyntaxes: [TransferSyntax.JPEGBaseline8Bit, TransferSyntax.ImplicitVRLittleEndian],
    },
  ],
  userInformation: {
    maxPduLength: 16384,
    implementationClassUid: '1.2.3',
    implementationVersionName: 'TEST',
    roles: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', scu: false, scp: true }],
  },
  ...overrides,
});

const policy = { aeTitle: 'KENEY', checkCalledAeTitle: true, maxPduLength: 1 << 20 };

describe('PDU codec', () => {
  it('round-trips an A-ASSOCIATE-RQ with contexts and user information', () => {
    const decoded = decodePdu(encodePdu(rq()));
    expect(decoded).toEqual(rq());
  });

  it('round-trips P-DATA-TF with several PDVs, and release and abort PDUs', () => {
    const pdata: Pdu = {
      type: PduType.PData,
      pdvs: [
        { contextId: 1, command: true, last: true, data: Buffer.from([1, 2]) },
        { contextId: 1, command: false, last: false, data: Buffer.from([3]) },
      ],
    };
    expect(decodePdu(encodePdu(pdata))).toEqual(pdata);
    expect(decodePdu(encodePdu({ type: PduType.Abort, source: 2, reason: 6 }))).toEqual({
      type: PduType.Abort,
      source: 2,
      reason: 6,
    });
    expect(decodePdu(encodePdu({ type: PduType.ReleaseRq }))).toEqual({ type: PduType.ReleaseRq });
  });

  it('refuses items that run past their container, and unknown PDU types', () => {
    const bytes = encodePdu(rq());
    bytes.writeUInt16BE(0xfff0, 6 + 68 + 2); // the application context item's length
    expect(() => decodePdu(bytes)).toThrow(PduError);
    expect(() => decodePdu(Buffer.from([0x09, 0, 0, 0, 0, 0]))).toThrow(/Unrecognized PDU type 0x09/);
    const pdv = encodePdu({
      type: PduType.PData,
      pdvs: [{ contextId: 1, command: true, last: true, data: Buffer.alloc(4) }],
    });
    pdv.writeUInt32BE(1000, 6);
    expect(() => decodePdu(pdv)).toThrow(/PDV declares 1000 bytes/);
  });
});

describe('negotiation policy', () => {
  it('accepts storage in the requestor’s preferred syntax we can read, and Q/R uncompressed only', () => {
    const result = negotiate(rq(), policy);
    expect(result).toMatchObject({
      kind: 'accept',
      contexts: [
        { id: 1, result: ContextResult.Acceptance, transferSyntax: TransferSyntax.JPEGLosslessSV1 },
        { id: 3, result: ContextResult.Acceptance, transferSyntax: TransferSyntax.ImplicitVRLittleEndian },
      ],
      roles: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', scu: false, scp: true }],
    });
  });

  it('rejects with the reason the standard names', () => {
    expect(negotiate(rq({ calledAeTitle: 'OTHER' }), policy)).toMatchObject({
      kind: 'reject',
      source: RejectSource.ServiceUser,
      reason: RejectReason.CalledAeNotRecognized,
    });
    expect(negotiate(rq(), { ...policy, allowedCallingAeTitles: ['CT1'] })).toMatchObject({
      kind: 'reject',
      reason: RejectReason.CallingAeNotRecognized,
    });
    expect(negotiate(rq({ applicationContext: '1.2.3' }), policy)).toMatchObject({
      kind: 'reject',
      reason: RejectReason.ApplicationContextNotSupported,
    });
    expect(negotiate(rq({ protocolVersion: 2 }), policy)).toMatchObject({
      kind: 'reject',
      source: RejectSource.ServiceProviderAcse,
      reason: RejectReason.ProtocolVersionNotSupported,
    });
  });

  it('refuses even and duplicate context ids', () => {
    const result = negotiate(
      rq({
        contexts: [
          { id: 2, abstractSyntax: SopClass.Verification, transferSyntaxes: [TransferSyntax.ImplicitVRLittleEndian] },
          { id: 5, abstractSyntax: SopClass.Verification, transferSyntaxes: [TransferSyntax.ImplicitVRLittleEndian] },
          { id: 5, abstractSyntax: SopClass.Verification, transferSyntaxes: [TransferSyntax.ImplicitVRLittleEndian] },
        ],
      }),
      policy,
    );
    expect(result.kind === 'accept' && result.contexts.map((c) => c.result)).toEqual([
      ContextResult.NoReason,
      ContextResult.Acceptance,
      ContextResult.NoReason,
    ]);
  });
});
