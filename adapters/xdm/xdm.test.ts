import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frenchDocument, frenchSubmission } from '../../fixtures/xds/french-submission.js';
import { parseCda, readCdaHeader } from '../cda/index.js';
import { ZipErrorCode, readXdm, readZip, writeXdm, writeZip, type ZipError } from './index.js';

const CORPUS = new URL('../../../shared/corpus/xdm/directproject-nhin-d/', import.meta.url);

async function zipError(p: Promise<unknown>): Promise<ZipError> {
  try {
    await p;
  } catch (e) {
    return e as ZipError;
  }
  throw new Error('expected a ZipError');
}

/** Replaces every occurrence of a same-length name in a zip (local header and central directory). */
function rename(zip: Buffer, from: string, to: string): Buffer {
  expect(from.length).toBe(to.length);
  const out = Buffer.from(zip);
  const needle = Buffer.from(from, 'latin1');
  for (let i = out.indexOf(needle); i >= 0; i = out.indexOf(needle, i + 1)) out.write(to, i, 'latin1');
  return out;
}

describe('XDM corpus zips (acceptance 3: both are filed)', () => {
  it('xd-common-samplexdm.zip: package in an extra folder; document matched by entry id; hash verified', async () => {
    const pkg = await readXdm(readFileSync(new URL('xd-common-samplexdm.zip', CORPUS)));
    expect(pkg.submissions).toHaveLength(1);
    const sub = pkg.submissions[0]!;
    expect(sub.subsetPath).toBe('samplexdm/IHE_XDM/SUBSET01');
    expect(sub.documents).toHaveLength(1);
    expect(sub.documents[0]).toMatchObject({
      entryId: 'Document01',
      path: 'samplexdm/IHE_XDM/SUBSET01/Document01.xml',
      matchedBy: 'entry-id',
      mimeType: 'text/xml',
    });
    expect(readCdaHeader(parseCda(sub.documents[0]!.bytes)).patient.name).toBeTruthy();
    expect(sub.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(sub.issues.some((i) => i.message.includes('hash'))).toBe(false);
    expect(sub.unreferencedFiles).toEqual(['samplexdm/IHE_XDM/SUBSET01/CCD.xsl']);
    expect(pkg.warnings.join('\n')).toContain('extra folder "samplexdm/"');
    expect(pkg.readme).toContain('NHIN Direct');
    expect(pkg.index).toContain('XDM Message');
  });

  it('xdmail-samplexdm-backslash-paths.zip: backslashes, no IHE_XDM, file not named after the entry → matched by type', async () => {
    const pkg = await readXdm(readFileSync(new URL('xdmail-samplexdm-backslash-paths.zip', CORPUS)));
    const sub = pkg.submissions[0]!;
    expect(sub.subsetPath).toBe('SUBSET01');
    expect(sub.documents.map((d) => [d.path, d.matchedBy])).toEqual([['SUBSET01/DOCUMENT.xml', 'mime-type']]);
    expect(pkg.warnings.join('\n')).toMatch(/backslashes/);
    expect(pkg.warnings.join('\n')).toMatch(/no IHE_XDM folder/);
    expect(sub.objects.documentEntries[0]!.patientId).toBe('111111111^^&2.16.840.1.113883.4.1&ISO');
    // Media rules: the malformed patient id and the short association type are warnings, the documents are filed.
    expect(sub.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(sub.issues.some((i) => i.severity === 'warning' && i.code === 'XDSPatientIdDoesNotMatch')).toBe(true);
  });
});

describe('writing XDM', () => {
  it('writes README.TXT, INDEX.HTM, METADATA.XML and documents; reading it back gives the same metadata and bytes', async () => {
    const doc = frenchDocument();
    const objects = frenchSubmission(doc);
    const zip = await writeXdm(objects, [{ entryId: 'Document01', bytes: doc }], {
      sender: 'Keney Hub tests',
      contact: 'dr.test@ch-test.mssante.fr',
      mtime: new Date('2024-01-02T00:00:00Z'),
    });
    const names = (await readZip(zip)).map((e) => e.path).sort();
    expect(names).toEqual(['IHE_XDM/SUBSET01/DOC0001.TXT', 'IHE_XDM/SUBSET01/METADATA.XML', 'INDEX.HTM', 'README.TXT']);
    const pkg = await readXdm(zip);
    expect(pkg.warnings).toEqual([]);
    const sub = pkg.submissions[0]!;
    expect(sub.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(sub.documents[0]).toMatchObject({ matchedBy: 'uri', path: 'IHE_XDM/SUBSET01/DOC0001.TXT' });
    expect(sub.documents[0]!.bytes.equals(doc)).toBe(true);
    const entry = sub.objects.documentEntries[0]!;
    expect(entry).toMatchObject({ uri: 'DOC0001.TXT', size: String(doc.byteLength) });
    const { uri: _u, hash: _h, size: _s, ...rest } = entry;
    expect(rest).toEqual(objects.documentEntries[0]);
    expect(objects.documentEntries[0]!.uri).toBeUndefined(); // the input was not modified
  });

  it('refuses a DocumentEntry without document and a document without entry', async () => {
    await expect(writeXdm(frenchSubmission(), [], { sender: 'x' })).rejects.toThrow(/has no document/);
    await expect(
      writeXdm(frenchSubmission(), [{ entryId: 'Nope', bytes: Buffer.from('x') }], { sender: 'x' }),
    ).rejects.toThrow(/no DocumentEntry/);
  });

  it('a document that does not match its hash and size is reported with the metadata error, and still listed', async () => {
    const doc = frenchDocument();
    const zip = await writeXdm(frenchSubmission(doc), [{ entryId: 'Document01', bytes: doc }], { sender: 'x' });
    const entries = await readZip(zip);
    const tampered = await writeZip(
      entries.map((e) => ({ path: e.path, bytes: e.path.endsWith('DOC0001.TXT') ? Buffer.from('altered!') : e.bytes })),
    );
    const sub = (await readXdm(tampered)).submissions[0]!;
    const errors = sub.issues.filter((i) => i.severity === 'error');
    expect(errors.map((i) => i.code)).toEqual(['XDSRegistryMetadataError', 'XDSRegistryMetadataError']);
    expect(errors[0]!.message).toMatch(/hash .* does not match/);
    expect(errors[1]!.message).toMatch(/size .* does not match/);
    expect(sub.documents.map((d) => d.bytes.toString())).toEqual(['altered!']);
  });
});

describe('hostile zips', () => {
  it('path traversal and absolute paths are refused', async () => {
    const base = await writeZip([{ path: 'aa/evil.txt', bytes: Buffer.from('x') }]);
    expect((await zipError(readXdm(rename(base, 'aa/evil.txt', '../evil.txt')))).code).toBe(ZipErrorCode.PathTraversal);
    expect((await zipError(readXdm(rename(base, 'aa/evil.txt', '..\\evil.txt')))).code).toBe(
      ZipErrorCode.PathTraversal,
    );
    expect((await zipError(readXdm(rename(base, 'aa/evil.txt', '/a/evil.txt')))).code).toBe(ZipErrorCode.PathTraversal);
    expect((await zipError(readXdm(rename(base, 'aa/evil.txt', 'C:/evil.txt')))).code).toBe(ZipErrorCode.PathTraversal);
  });

  it('a zip bomb is refused from its header, before inflating', async () => {
    const bomb = await writeZip([{ path: 'IHE_XDM/SUBSET01/METADATA.XML', bytes: Buffer.alloc(20 * 1024 * 1024) }]);
    expect(bomb.length).toBeLessThan(100_000);
    const error = await zipError(readXdm(bomb));
    expect(error.code).toBe(ZipErrorCode.SuspiciousRatio);
    expect(error.message).toMatch(/zip bomb/);
  });

  it('size and count limits', async () => {
    const many = await writeZip(Array.from({ length: 30 }, (_, i) => ({ path: `f${i}.txt`, bytes: Buffer.from('x') })));
    expect((await zipError(readZip(many, { maxEntries: 10 }))).code).toBe(ZipErrorCode.TooManyEntries);
    const big = await writeZip([
      { path: 'a.bin', bytes: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)) },
    ]);
    expect((await zipError(readZip(big, { maxEntryBytes: 1000 }))).code).toBe(ZipErrorCode.EntryTooLarge);
    const two = await writeZip([
      { path: 'a.bin', bytes: Buffer.alloc(600, 1) },
      { path: 'b.bin', bytes: Buffer.alloc(600, 2) },
    ]);
    expect((await zipError(readZip(two, { maxTotalBytes: 1000 }))).code).toBe(ZipErrorCode.TotalTooLarge);
  });

  it('an entry that lies about its size is refused', async () => {
    const zip = await writeZip([{ path: 'a.txt', bytes: Buffer.alloc(5000, 0x41) }]);
    // Patch the uncompressed size (central directory offset 24, local header offset 22) to 10 bytes.
    const out = Buffer.from(zip);
    const central = out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    out.writeUInt32LE(10, central + 24);
    out.writeUInt32LE(10, 22);
    const error = await zipError(readZip(out));
    expect([ZipErrorCode.Corrupt, ZipErrorCode.SuspiciousRatio]).toContain(error.code);
  });

  it('not a zip, a truncated zip, an encrypted entry, and a zip without METADATA.XML', async () => {
    expect((await zipError(readXdm(Buffer.from('PK\u0003\u0004 this is not a zip')))).code).toBe(ZipErrorCode.NotAZip);
    const zip = await writeZip([{ path: 'README.TXT', bytes: Buffer.from('hello') }]);
    expect((await zipError(readXdm(zip.subarray(0, zip.length - 10)))).code).toBe(ZipErrorCode.NotAZip);
    const encrypted = Buffer.from(zip);
    encrypted.writeUInt16LE(
      encrypted.readUInt16LE(encrypted.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 8) | 1,
      encrypted.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 8,
    );
    expect((await zipError(readXdm(encrypted))).code).toBe(ZipErrorCode.Encrypted);
    await expect(readXdm(zip)).rejects.toThrow(/No METADATA.XML/);
  });

  it('a METADATA.XML with an XXE payload is reported as a metadata error, not read', async () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>';
    const zip = await writeZip([{ path: 'IHE_XDM/SUBSET01/METADATA.XML', bytes: Buffer.from(xxe) }]);
    const pkg = await readXdm(zip);
    expect(pkg.submissions[0]!.issues[0]!.message).toMatch(/DOCTYPE/);
    expect(pkg.submissions[0]!.documents).toEqual([]);
  });
});
