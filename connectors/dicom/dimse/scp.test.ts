// Our SCU against our SCP over loopback sockets: negotiation, statuses for malformed and hostile data
// sets, limits, duplicate policy. (dcmtk peers are in dcmtk.int.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPart10 } from '../../../adapters/dicom/part10.js';
import { corpusFile, syntheticInstance } from '../../../adapters/dicom/test-support.js';
import { SopClass, TransferSyntax } from '../../../adapters/dicom/uids.js';
import { openTestDicom, type TestDicom } from '../test-support.js';
import { CommandField, Status } from './command.js';
import { ContextResult } from './pdu.js';
import { associate, cEcho, cStore, ScuError } from './scu.js';

const ELE = TransferSyntax.ExplicitVRLittleEndian;
const SC = '1.2.840.10008.5.1.4.1.1.7';

describe('DIMSE SCP statuses and negotiation (our SCU over loopback)', () => {
  let dicom: TestDicom;
  let port: number;
  const remote = () => ({ aeTitle: 'KENEY', host: '127.0.0.1', port });

  beforeAll(async () => {
    dicom = await openTestDicom({ maxInstanceBytes: 200_000, maxAssociations: 3 });
    port = (await dicom.service.startDimse()).port;
  });
  afterAll(() => dicom?.close());

  const open = (
    contexts: Array<{ abstractSyntax: string; transferSyntaxes: string[] }> = [
      { abstractSyntax: SC, transferSyntaxes: [ELE] },
    ],
  ) => associate(remote(), { callingAeTitle: 'KENEYTEST', contexts });

  it('accepts storage and verification contexts and rejects what it cannot store, per context', async () => {
    const association = await open([
      { abstractSyntax: SopClass.Verification, transferSyntaxes: [TransferSyntax.ImplicitVRLittleEndian] },
      { abstractSyntax: SC, transferSyntaxes: ['1.2.3.999', TransferSyntax.JPEGBaseline8Bit] },
      { abstractSyntax: '1.2.840.10008.5.1.1.1', transferSyntaxes: [ELE] }, // Basic Film Session: not ours
      { abstractSyntax: SopClass.MediaStorageDirectory, transferSyntaxes: [ELE] }, // DICOMDIR is not a storage class
      { abstractSyntax: SC, transferSyntaxes: ['1.2.3.999'] }, // no syntax we can read
    ]);
    try {
      expect(association.findContext(SopClass.Verification)).toBeDefined();
      expect(association.findContext(SC)?.transferSyntax).toBe(TransferSyntax.JPEGBaseline8Bit);
      expect(association.findContext('1.2.840.10008.5.1.1.1')).toBeUndefined();
      expect(association.findContext(SopClass.MediaStorageDirectory)).toBeUndefined();
      expect(association.contexts.size).toBe(2);
    } finally {
      await association.release();
    }
    expect(ContextResult.AbstractSyntaxNotSupported).toBe(3);
  });

  it('stores a valid instance (success) and answers the same bytes again idempotently', async () => {
    const instance = syntheticInstance();
    const association = await open();
    try {
      const item = {
        sopClassUid: SC,
        sopInstanceUid: instance.sopInstanceUid,
        transferSyntaxUid: ELE,
        dataSet: instance.dataSet,
      };
      expect((await cStore(association, item)).status).toBe(Status.Success);
      expect((await cStore(association, item)).status).toBe(Status.Success);
    } finally {
      await association.release();
    }
    const stored = await dicom.service.index.findInstance(instance.sopInstanceUid);
    expect(stored?.version).toBe(1);
    expect(stored?.sourceAeTitle).toBe('KENEYTEST');
  });

  it('refuses malformed data sets with the DIMSE status that says why, and keeps serving', async () => {
    const valid = syntheticInstance();
    const noUids = readPart10(corpusFile('pydicom/charset/chrSQEncoding.dcm'));
    const association = await open();
    try {
      const send = (dataSet: Buffer, sopInstanceUid = valid.sopInstanceUid) =>
        cStore(association, { sopClassUid: SC, sopInstanceUid, transferSyntaxUid: ELE, dataSet });
      const truncated = await send(valid.dataSet.subarray(0, valid.dataSet.length - 7));
      expect(truncated.status).toBe(Status.CannotUnderstand);
      expect(truncated.errorComment).toMatch(/declares|ends/);
      const missing = await send(noUids.bytes.subarray(noUids.dataSetOffset));
      expect(missing.status).toBe(Status.DataSetDoesNotMatchSopClass);
      expect(missing.errorComment).toMatch(/SOP Class UID/);
      const mismatch = await send(valid.dataSet, '1.2.3.4.5.6');
      expect(mismatch.status).toBe(Status.DataSetDoesNotMatchSopClass);
      expect(mismatch.errorComment).toMatch(/^SOP Instance UID mismatch/);
      const garbage = await send(Buffer.from('this is not a DICOM data set at all....'));
      expect(garbage.status).toBe(Status.CannotUnderstand);
      // Still up, on the same association.
      expect((await send(valid.dataSet)).status).toBe(Status.Success);
    } finally {
      await association.release();
    }
  });

  it('refuses an instance over the size limit with "out of resources" and reads past it', async () => {
    const big = syntheticInstance({ extra: [{ tag: 0x00091010, vr: 'OB', value: new Uint8Array(300_000) }] });
    const association = await open();
    try {
      const result = await cStore(association, {
        sopClassUid: SC,
        sopInstanceUid: big.sopInstanceUid,
        transferSyntaxUid: ELE,
        dataSet: big.dataSet,
      });
      expect(result.status).toBe(Status.OutOfResources);
      expect(result.errorComment).toMatch(/over 200000 bytes/);
      const small = syntheticInstance();
      expect(
        (
          await cStore(association, {
            sopClassUid: SC,
            sopInstanceUid: small.sopInstanceUid,
            transferSyntaxUid: ELE,
            dataSet: small.dataSet,
          })
        ).status,
      ).toBe(Status.Success);
    } finally {
      await association.release();
    }
  });

  it('rejects associations beyond the limit as transient, and accepts again once one closes', async () => {
    const held = [await open(), await open(), await open()];
    try {
      await expect(cEcho(remote(), 'KENEYTEST')).rejects.toSatisfy(
        (e: unknown) => e instanceof ScuError && e.transient && /reason 2/.test(e.message),
      );
    } finally {
      await Promise.all(held.map((a) => a.release()));
    }
    expect(await cEcho(remote(), 'KENEYTEST')).toBe(Status.Success);
  });

  it('answers an unsupported command with a failure status instead of dropping the association', async () => {
    const association = await open([{ abstractSyntax: SopClass.Verification, transferSyntaxes: [ELE] }]);
    try {
      const context = association.findContext(SopClass.Verification)!;
      const response = await association.request(context.id, {
        commandField: 0x0110 /* N-ACTION-RQ */,
        affectedSopClassUid: SopClass.Verification,
      });
      expect(response.command.commandField).toBe(0x8110);
      expect(response.command.status).toBe(0x0211);
      const echo = await association.request(context.id, {
        commandField: CommandField.CEchoRq,
        affectedSopClassUid: SopClass.Verification,
      });
      expect(echo.command.status).toBe(Status.Success);
    } finally {
      await association.release();
    }
  });
});

describe('duplicate policy "reject"', () => {
  it('keeps the first version and answers 0111 for different bytes under the same UID', async () => {
    const dicom = await openTestDicom({ duplicatePolicy: 'reject' });
    try {
      const port = (await dicom.service.startDimse()).port;
      const first = syntheticInstance();
      const second = syntheticInstance({
        sopInstanceUid: first.sopInstanceUid,
        studyInstanceUid: first.studyInstanceUid,
        seriesInstanceUid: first.seriesInstanceUid,
        extra: [{ tag: 0x00081030, value: 'corrected' }],
      });
      const association = await associate(
        { aeTitle: 'KENEY', host: '127.0.0.1', port },
        { callingAeTitle: 'KENEYTEST', contexts: [{ abstractSyntax: SC, transferSyntaxes: [ELE] }] },
      );
      try {
        const send = (dataSet: Buffer) =>
          cStore(association, {
            sopClassUid: SC,
            sopInstanceUid: first.sopInstanceUid,
            transferSyntaxUid: ELE,
            dataSet,
          });
        expect((await send(first.dataSet)).status).toBe(Status.Success);
        const conflict = await send(second.dataSet);
        expect(conflict.status).toBe(Status.DuplicateSopInstance);
        expect(conflict.errorComment).toMatch(/already stored/);
      } finally {
        await association.release();
      }
    } finally {
      await dicom.close();
    }
  });
});
