// dcmtk's command-line tools (Debian package dcmtk) against our SCP: the peers a user meets in the field.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDataSet, readPart10 } from '../../../adapters/dicom/part10.js';
import { CORPUS_DIR, corpusFile } from '../../../adapters/dicom/test-support.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import { TransferSyntax } from '../../../adapters/dicom/uids.js';
import { hasService } from '../../../test/services.js';
import { canonicalContent, freePort, openTestDicom, runTool, storableCorpus, type TestDicom } from '../test-support.js';

/** storescu proposes uncompressed syntaxes unless told which compressed one to add (-x… flags). */
const STORESCU_FLAG: Record<string, string[]> = {
  [TransferSyntax.DeflatedExplicitVRLittleEndian]: ['-xd'],
  [TransferSyntax.JPEGBaseline8Bit]: ['-xy'],
  [TransferSyntax.JPEGExtended12Bit]: ['-xx'],
  [TransferSyntax.JPEGLosslessSV1]: ['-xs'],
  [TransferSyntax.JPEGLSLossless]: ['-xt'],
  [TransferSyntax.JPEG2000Lossless]: ['-xv'],
  [TransferSyntax.JPEG2000]: ['-xw'],
  [TransferSyntax.RLELossless]: ['-xr'],
};

/** dcmtk 3.6.7 cannot read this corpus file (a text value under a tag the dictionary calls SQ); we can. */
const DCMTK_UNREADABLE = ['dcm4che/Tag-0040-A170-VR-CS.dcm'];

describe.skipIf(!hasService('dcmtk'))('dcmtk tools against the DIMSE SCP', () => {
  let dicom: TestDicom;
  let port: number;
  let moveScpPort: number;
  const corpus = storableCorpus().filter((c) => !DCMTK_UNREADABLE.includes(c.name));
  const uniqueUids = [...new Set(corpus.map((c) => c.sopInstanceUid))];

  beforeAll(async () => {
    moveScpPort = await freePort();
    dicom = await openTestDicom({
      allowedCallingAeTitles: ['ECHOSCU', 'STORESCU', 'FINDSCU', 'MOVESCU', 'GETSCU', 'KENEYTEST'],
      remoteAes: { MOVESCU: { host: '127.0.0.1', port: moveScpPort } },
    });
    port = (await dicom.service.startDimse()).port;
  });
  afterAll(() => dicom?.close());

  const echo = (...args: string[]) => runTool('echoscu', ['-aec', 'KENEY', ...args, '127.0.0.1', String(port)]);

  it('answers echoscu (C-ECHO)', async () => {
    const result = await echo();
    expect(result.stderr).not.toMatch(/E:/);
    expect(result.code).toBe(0);
  });

  it('rejects a calling AE title that is not allowed, saying so', async () => {
    const result = await echo('-v', '-aet', 'INTRUDER');
    expect(result.code).not.toBe(0);
    expect(result.stderr + result.stdout).toMatch(/Association Rejected[\s\S]*Calling AE Title Not Recognized/i);
  });

  it('rejects a called AE title that is not ours', async () => {
    const result = await runTool('echoscu', ['-v', '-aec', 'NOTKENEY', '127.0.0.1', String(port)]);
    expect(result.code).not.toBe(0);
    expect(result.stderr + result.stdout).toMatch(/Called AE Title Not Recognized/i);
  });

  it('stores every valid corpus file sent by storescu, in its own transfer syntax', async () => {
    const groups = new Map<string, string[]>();
    for (const c of corpus) {
      const flags = (STORESCU_FLAG[c.transferSyntaxUid] ?? []).join(' ');
      groups.set(flags, [...(groups.get(flags) ?? []), c.path]);
    }
    for (const [flags, files] of groups) {
      const result = await runTool('storescu', [
        '-aec',
        'KENEY',
        '-R',
        ...flags.split(' ').filter(Boolean),
        '127.0.0.1',
        String(port),
        ...files,
      ]);
      expect(
        result.stderr.split('\n').filter((l) => l.startsWith('E:')),
        `storescu ${flags}`,
      ).toEqual([]);
      expect(result.code).toBe(0);
    }
    for (const uid of uniqueUids) expect(await dicom.service.index.findInstance(uid), uid).toBeDefined();
    // What we keep is exactly what came over the wire: same data set bytes as the file when storescu did not convert.
    for (const c of corpus.filter((c) => c.part10)) {
      const stored = await dicom.service.store.read(c.sopInstanceUid);
      if (stored!.instance.transferSyntaxUid !== c.transferSyntaxUid) continue;
      const file = readPart10(readFileSync(c.path));
      if (
        stored!.instance.dataSetSha256 !==
        (await import('node:crypto')).createHash('sha256').update(file.bytes.subarray(file.dataSetOffset)).digest('hex')
      )
        continue; // a later variant of the same UID replaced it
      expect(
        stored!.file.subarray(stored!.instance.dataSetOffset).equals(file.bytes.subarray(file.dataSetOffset)),
        c.name,
      ).toBe(true);
    }
  });

  it('finds the stored studies with findscu at patient, study, series and image level', async () => {
    const study = await runTool('findscu', [
      '-aec',
      'KENEY',
      '-S',
      '-k',
      'QueryRetrieveLevel=STUDY',
      '-k',
      'PatientName=CompressedSamples*',
      '-k',
      'StudyInstanceUID',
      '-k',
      'NumberOfStudyRelatedInstances',
      '127.0.0.1',
      String(port),
    ]);
    expect(study.code).toBe(0);
    const studyUids = [...study.stderr.matchAll(/\(0020,000d\) UI \[([0-9.]+)/g)].map((m) => m[1]);
    const expected = new Set(
      corpus
        .filter((c) => c.part10)
        .map((c) => readPart10(readFileSync(c.path)).dataSet)
        .filter((ds) => ds.string(Tag.PatientName)?.startsWith('CompressedSamples'))
        .map((ds) => ds.string(Tag.StudyInstanceUID)),
    );
    expect(new Set(studyUids)).toEqual(expected);

    const patient = await runTool('findscu', [
      '-aec',
      'KENEY',
      '-P',
      '-k',
      'QueryRetrieveLevel=PATIENT',
      '-k',
      'PatientID=IBBB49',
      '-k',
      'PatientName',
      '127.0.0.1',
      String(port),
    ]);
    expect(patient.code).toBe(0);
    // The only IBBB49 patient is the one dcmtk cannot read: nothing is found, and that is a success.
    expect(patient.stderr).not.toMatch(/Find Response: 1 \(Pending\)/);

    const mrStudy = readPart10(corpusFile('pydicom/MR_small.dcm')).dataSet.string(Tag.StudyInstanceUID)!;
    const series = await runTool('findscu', [
      '-aec',
      'KENEY',
      '-S',
      '-k',
      'QueryRetrieveLevel=SERIES',
      '-k',
      `StudyInstanceUID=${mrStudy}`,
      '-k',
      'SeriesInstanceUID',
      '-k',
      'Modality',
      '127.0.0.1',
      String(port),
    ]);
    expect(series.stderr).toMatch(/\(0008,0060\) CS \[MR\]/);

    const images = await runTool('findscu', [
      '-aec',
      'KENEY',
      '-S',
      '-k',
      'QueryRetrieveLevel=IMAGE',
      '-k',
      `StudyInstanceUID=${mrStudy}`,
      '-k',
      'SOPInstanceUID',
      '127.0.0.1',
      String(port),
    ]);
    expect([...images.stderr.matchAll(/Find Response: \d+ \(Pending\)/g)]).toHaveLength(1);

    const badLevel = await runTool('findscu', [
      '-v',
      '-aec',
      'KENEY',
      '-S',
      '-k',
      'QueryRetrieveLevel=PLANET',
      '-k',
      'PatientName',
      '127.0.0.1',
      String(port),
    ]);
    expect(badLevel.stderr + badLevel.stdout).toMatch(/Final Find Response \(Error: DataSetDoesNotMatchSOPClass\)/);
  });

  it('moves a study to movescu (C-MOVE) and gets a series with getscu (C-GET), bytes as stored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keney-move-'));
    try {
      const mr = readPart10(corpusFile('pydicom/CT_small.dcm')).dataSet;
      const move = await runTool('movescu', [
        '-aet',
        'MOVESCU',
        '-aem',
        'MOVESCU',
        '-aec',
        'KENEY',
        '+P',
        String(moveScpPort),
        '-od',
        dir,
        '-S',
        '-k',
        'QueryRetrieveLevel=STUDY',
        '-k',
        `StudyInstanceUID=${mr.string(Tag.StudyInstanceUID)}`,
        '127.0.0.1',
        String(port),
      ]);
      expect(move.stderr.split('\n').filter((l) => l.startsWith('E:'))).toEqual([]);
      const moved = readdirSync(dir);
      expect(moved).toHaveLength(1);
      const received = readPart10(readFileSync(join(dir, moved[0]!)));
      const stored = await dicom.service.store.read(mr.string(Tag.SOPInstanceUID)!);
      expect(
        received.bytes.subarray(received.dataSetOffset).equals(stored!.file.subarray(stored!.instance.dataSetOffset)),
      ).toBe(true);

      const unknown = await runTool('movescu', [
        '-v',
        '-aet',
        'MOVESCU',
        '-aem',
        'NOWHERE',
        '-aec',
        'KENEY',
        '-S',
        '-k',
        'QueryRetrieveLevel=STUDY',
        '-k',
        `StudyInstanceUID=${mr.string(Tag.StudyInstanceUID)}`,
        '127.0.0.1',
        String(port),
      ]);
      expect(unknown.stderr + unknown.stdout).toMatch(/MoveDestinationUnknown/);

      const getDir = await mkdtemp(join(tmpdir(), 'keney-get-'));
      try {
        const get = await runTool('getscu', [
          '-aet',
          'GETSCU',
          '-aec',
          'KENEY',
          '-od',
          getDir,
          '-S',
          '-k',
          'QueryRetrieveLevel=SERIES',
          '-k',
          `StudyInstanceUID=${mr.string(Tag.StudyInstanceUID)}`,
          '-k',
          `SeriesInstanceUID=${mr.string(Tag.SeriesInstanceUID)}`,
          '127.0.0.1',
          String(port),
        ]);
        expect(get.stderr.split('\n').filter((l) => l.startsWith('E:'))).toEqual([]);
        const got = readdirSync(getDir);
        expect(got).toHaveLength(1);
        // getscu rewrites what it receives (dcmtk re-encodes lengths): compare the content.
        const file = readPart10(readFileSync(join(getDir, got[0]!)));
        expect(canonicalContent(file.dataSet)).toEqual(canonicalContent(readPart10(stored!.file).dataSet));
      } finally {
        await rm(getDir, { recursive: true, force: true });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stays up after garbage on the DIMSE port, answering with an A-ABORT', async () => {
    const send = (bytes: Buffer) =>
      new Promise<Buffer>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port });
        const chunks: Buffer[] = [];
        socket.on('data', (c) => chunks.push(c));
        socket.on('close', () => resolve(Buffer.concat(chunks)));
        socket.on('error', () => resolve(Buffer.concat(chunks)));
        socket.end(bytes);
      });
    const http = await send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(http[0]).toBe(0x07); // A-ABORT
    expect(http[9]).toBe(1); // reason: unrecognized PDU
    const huge = await send(Buffer.from([0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01]));
    expect(huge[0]).toBe(0x07);
    expect(huge[9]).toBe(6); // invalid PDU parameter value
    const truncatedRq = await send(Buffer.from([0x01, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00]));
    expect(truncatedRq[0] === 0x07 || truncatedRq.length === 0).toBe(true);
    expect((await echo()).code).toBe(0);
  });

  it('reads the data set storescu sends for a file without meta information (bare data set)', async () => {
    const uid = readDataSet(corpusFile('pydicom/rtstruct.dcm'), TransferSyntax.ImplicitVRLittleEndian).string(
      Tag.SOPInstanceUID,
    )!;
    expect(await dicom.service.index.findInstance(uid)).toBeDefined();
  });
});

describe.skipIf(!hasService('dcmtk'))('DIMSE over TLS with dcmtk', () => {
  let dicom: TestDicom;
  let port: number;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keney-tls-'));
    const cert = (name: string) =>
      runTool('openssl', [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, `${name}.key`),
        '-out',
        join(dir, `${name}.crt`),
      ]);
    expect((await cert('server')).code).toBe(0);
    expect((await cert('client')).code).toBe(0);
    dicom = await openTestDicom({
      tls: {
        key: readFileSync(join(dir, 'server.key')),
        cert: readFileSync(join(dir, 'server.crt')),
        ca: readFileSync(join(dir, 'client.crt')),
        requestCert: true,
        rejectUnauthorized: true,
      },
    });
    port = (await dicom.service.startDimse()).port;
  });
  afterAll(async () => {
    await dicom?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('accepts a client with a trusted certificate and verifies ours', async () => {
    const result = await runTool('echoscu', [
      '-aec',
      'KENEY',
      '+tls',
      join(dir, 'client.key'),
      join(dir, 'client.crt'),
      '-pw',
      '+cf',
      join(dir, 'server.crt'),
      '127.0.0.1',
      String(port),
    ]);
    expect(result.stderr).not.toMatch(/E:/);
    expect(result.code).toBe(0);
    const store = await runTool('storescu', [
      '-aec',
      'KENEY',
      '+tls',
      join(dir, 'client.key'),
      join(dir, 'client.crt'),
      '-pw',
      '+cf',
      join(dir, 'server.crt'),
      '127.0.0.1',
      String(port),
      join(CORPUS_DIR, 'pydicom', 'CT_small.dcm'),
    ]);
    expect(store.code).toBe(0);
    expect(
      await dicom.service.index.findInstance(
        readPart10(corpusFile('pydicom/CT_small.dcm')).dataSet.string(Tag.SOPInstanceUID)!,
      ),
    ).toBeDefined();
  });

  it('refuses a client without a certificate, and plain TCP, and stays up', async () => {
    const anonymous = await runTool('echoscu', [
      '-aec',
      'KENEY',
      '+tla',
      '+cf',
      join(dir, 'server.crt'),
      '127.0.0.1',
      String(port),
    ]);
    expect(anonymous.code).not.toBe(0);
    const plain = await runTool('echoscu', ['-aec', 'KENEY', '-to', '5', '127.0.0.1', String(port)], 20_000);
    expect(plain.code).not.toBe(0);
    const again = await runTool('echoscu', [
      '-aec',
      'KENEY',
      '+tls',
      join(dir, 'client.key'),
      join(dir, 'client.crt'),
      '-pw',
      '+cf',
      join(dir, 'server.crt'),
      '127.0.0.1',
      String(port),
    ]);
    expect(again.code).toBe(0);
  });
});
