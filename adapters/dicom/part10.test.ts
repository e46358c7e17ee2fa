import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { EXPLICIT_LITTLE, IMPLICIT_LITTLE, EXPLICIT_BIG, parseDataSet } from './dataset.js';
import { DicomError, DicomErrorCode } from './errors.js';
import { buildPart10, readDataSet, readPart10, requireIdentity } from './part10.js';
import { Tag } from './tags.js';
import { corpusFile, corpusFiles, corpusName, NOT_PART10, NOT_STORABLE, syntheticInstance } from './test-support.js';
import { TransferSyntax } from './uids.js';
import { encodeElements } from './writer.js';

function errorOf(fn: () => unknown): DicomError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DicomError) return error;
    throw new Error(`Expected a DicomError, got ${String(error)}`);
  }
  throw new Error('Expected a DicomError, nothing was thrown');
}

describe('Part-10 reading over the shared corpus', () => {
  for (const path of corpusFiles()) {
    const name = corpusName(path);
    it(`${name}: reads, or refuses with a precise reason`, () => {
      const bytes = corpusFile(name);
      if (NOT_PART10.includes(name)) {
        expect(errorOf(() => readPart10(bytes)).code).toBe(DicomErrorCode.NotPart10);
        // The same bytes are a valid bare data set (what a DIMSE peer sends).
        const ds = readDataSet(
          bytes,
          name.includes('ExplVR') ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian,
        );
        expect(requireIdentity(ds).sopInstanceUid).toMatch(/^[0-9.]+$/);
        return;
      }
      const file = readPart10(bytes);
      expect(file.transferSyntax.uid).toBe(file.meta.string(Tag.TransferSyntaxUID));
      if (NOT_STORABLE[name]) {
        expect(errorOf(() => requireIdentity(file.dataSet, file.meta)).code).toBe(DicomErrorCode.MissingAttribute);
      } else {
        const identity = requireIdentity(file.dataSet, file.meta);
        expect(identity.sopInstanceUid).toBe(file.dataSet.string(Tag.SOPInstanceUID));
        expect(identity.studyInstanceUid).toMatch(/^[0-9.]+$/);
      }
    });
  }

  it('reads the same data set identically in implicit, explicit and big-endian encodings', () => {
    const names = ['pydicom/MR_small_implicit.dcm', 'pydicom/MR_small.dcm', 'pydicom/MR_small_bigendian.dcm'];
    const views = names.map((n) => readPart10(corpusFile(n)).dataSet);
    for (const ds of views) {
      expect(ds.string(Tag.PatientName)).toBe('CompressedSamples^MR1');
      expect(ds.number(Tag.Rows)).toBe(64);
      expect(ds.number(Tag.BitsAllocated)).toBe(16);
      expect(ds.numbers(0x00280030)).toEqual(views[0]!.numbers(0x00280030)); // Pixel Spacing (DS)
    }
  });

  it('inflates a deflated data set', () => {
    const file = readPart10(corpusFile('pydicom/image_dfl.dcm'));
    expect(file.transferSyntax.deflated).toBe(true);
    expect(file.dataSet.number(Tag.Rows)).toBe(512);
  });

  it('keeps a dictionary-SQ tag holding text as bytes in Implicit VR (dcm4che Tag-0040-A170-VR-CS)', () => {
    const file = readPart10(corpusFile('dcm4che/Tag-0040-A170-VR-CS.dcm'));
    const item = file.dataSet
      .sequence(0x0040a020)[0]!
      .sequence(Tag.ContentSequence)
      .find((i) => i.has(0x0040a170))!;
    expect(item.get(0x0040a170)!.vr).toBe('UN');
    expect(item.valueBytes(0x0040a170)!.toString('latin1')).toBe('NAMED TYPE');
    expect(item.string(Tag.TextValue)).toBe('GOOD');
    expect(file.dataSet.string(Tag.PatientID)).toBe('IBBB49');
  });

  it('reads a sequence of undefined length inside a UN element (CP-246)', () => {
    const ds = readPart10(corpusFile('pydicom/UN_sequence.dcm')).dataSet;
    const items = ds.sequence(0x4453100c);
    expect(items).toHaveLength(1);
    expect(items[0]!.sequence(0x00081115)[0]!.string(Tag.SeriesInstanceUID)).toBe(
      '1.2.840.113619.2.327.3.185221411.476.1398588726.276',
    );
  });

  it('reports a meta/data set UID mismatch as a warning and keeps the data set UIDs', () => {
    const file = readPart10(corpusFile('pydicom/rtplan.dcm'));
    const identity = requireIdentity(file.dataSet, file.meta);
    expect(identity.warnings.join()).toMatch(/Media Storage SOP Instance UID .* differs/);
    expect(identity.sopInstanceUid).toBe(file.dataSet.string(Tag.SOPInstanceUID));
  });
});

describe('building Part-10 files', () => {
  it('wraps data set bytes unchanged behind a correct file meta information', () => {
    const instance = syntheticInstance();
    const file = readPart10(instance.file);
    expect(instance.file.subarray(file.dataSetOffset).equals(instance.dataSet)).toBe(true);
    expect(file.meta.number(Tag.FileMetaInformationGroupLength)).toBe(file.dataSetOffset - 132 - 12);
    expect(file.meta.string(Tag.MediaStorageSOPInstanceUID)).toBe(instance.sopInstanceUid);
    expect(file.dataSet.string(Tag.PatientName)).toBe('Dupont^Hélène');
  });

  it('writes and reads back implicit and big-endian data sets', () => {
    for (const encoding of [IMPLICIT_LITTLE, EXPLICIT_BIG]) {
      const instance = syntheticInstance({ encoding });
      const ds = readPart10(instance.file).dataSet;
      expect(ds.number(Tag.Columns)).toBe(4);
      expect(ds.string(Tag.SOPInstanceUID)).toBe(instance.sopInstanceUid);
    }
  });
});

describe('hostile and malformed input', () => {
  const valid = corpusFile('pydicom/CT_small.dcm');

  it('refuses every truncation of a valid file with a DicomError, never another exception', () => {
    const codes = new Set<string>();
    for (let cut = 0; cut < valid.length; cut += 97) {
      const truncated = valid.subarray(0, cut);
      try {
        const file = readPart10(truncated);
        requireIdentity(file.dataSet, file.meta);
      } catch (error) {
        expect(error).toBeInstanceOf(DicomError);
        codes.add((error as DicomError).code);
      }
    }
    expect(codes).toContain(DicomErrorCode.NotPart10);
    expect(codes).toContain(DicomErrorCode.LengthOverrun);
  });

  it('refuses an element whose declared length is absurd (4 GiB − 2), naming the tag', () => {
    const body = encodeElements([{ tag: Tag.PatientName, value: 'X^Y' }], EXPLICIT_LITTLE);
    const hostile = Buffer.concat([
      body,
      Buffer.from([0x10, 0x00, 0x20, 0x00, 0x4f, 0x42, 0, 0, 0xfe, 0xff, 0xff, 0xff]),
    ]);
    const error = errorOf(() => parseDataSet(hostile, EXPLICIT_LITTLE));
    expect(error.code).toBe(DicomErrorCode.LengthOverrun);
    expect(error.message).toContain('(0010,0020) declares 4294967294 bytes');
  });

  it('refuses an item length that runs past its sequence', () => {
    const item = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0x7f]);
    const seq = Buffer.concat([
      Buffer.from([0x08, 0x00, 0x15, 0x11, 0x53, 0x51, 0, 0]),
      Buffer.from([8, 0, 0, 0]),
      item,
    ]);
    expect(errorOf(() => parseDataSet(seq, EXPLICIT_LITTLE)).code).toBe(DicomErrorCode.LengthOverrun);
  });

  it('bounds the nesting depth of sequences', () => {
    // 200 nested undefined-length sequences/items.
    const open = Buffer.from([
      0x08, 0x00, 0x15, 0x11, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff,
    ]);
    const hostile = Buffer.concat(Array.from({ length: 200 }, () => open));
    expect(errorOf(() => parseDataSet(hostile, EXPLICIT_LITTLE)).code).toBe(DicomErrorCode.TooDeep);
  });

  it('refuses bytes that are not Explicit VR where Explicit VR is declared', () => {
    const implicit = encodeElements([{ tag: Tag.PatientName, value: 'X^Y' }], IMPLICIT_LITTLE);
    const error = errorOf(() => parseDataSet(implicit, EXPLICIT_LITTLE));
    expect(error.code).toBe(DicomErrorCode.Malformed);
    expect(error.message).toContain('no valid VR');
  });

  it('refuses an unknown transfer syntax by name', () => {
    const instance = syntheticInstance({ transferSyntaxUid: '1.2.3.4.5' });
    const error = errorOf(() => readPart10(instance.file));
    expect(error.code).toBe(DicomErrorCode.UnsupportedTransferSyntax);
    expect(error.message).toContain('1.2.3.4.5');
  });

  it('stops a deflate bomb at the inflated size limit', () => {
    const bomb = deflateRawSync(Buffer.alloc(8 << 20));
    const error = errorOf(() =>
      readDataSet(bomb, TransferSyntax.DeflatedExplicitVRLittleEndian, { maxInflatedBytes: 1 << 20 }),
    );
    expect(error.code).toBe(DicomErrorCode.TooLarge);
  });

  it('refuses a file meta information without a transfer syntax', () => {
    const meta = encodeElements([{ tag: Tag.MediaStorageSOPClassUID, value: '1.2.3' }], EXPLICIT_LITTLE);
    const file = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), meta]);
    expect(errorOf(() => readPart10(file)).code).toBe(DicomErrorCode.BadFileMeta);
  });

  it('survives random garbage after a valid preamble', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let round = 0; round < 200; round++) {
      const garbage = Buffer.from(
        Array.from({ length: 64 + Math.floor(random() * 512) }, () => Math.floor(random() * 256)),
      );
      const file = Buffer.concat([
        buildPart10(Buffer.alloc(0), {
          sopClassUid: '1.2.3',
          sopInstanceUid: '1.2.3.4',
          transferSyntaxUid: round % 2 ? TransferSyntax.ImplicitVRLittleEndian : TransferSyntax.ExplicitVRLittleEndian,
        }),
        garbage,
      ]);
      try {
        readPart10(file);
      } catch (error) {
        expect(error).toBeInstanceOf(DicomError);
      }
    }
  });
});
