// Forwarding to a real Orthanc (Debian orthanc + orthanc-dicomweb, started on loopback here) by C-STORE
// and STOW-RS, and Orthanc storing into our SCP. Orthanc is dcmtk inside: it rewrites the files it
// receives by C-STORE (sequence lengths, group lengths, OB/OW), so C-STORE content is compared
// element by element, and byte for byte where dcmtk leaves the encoding alone; the wire itself is checked
// byte for byte against dcmtk's storescp in bit-preserving mode. STOW-RS files are stored as sent.
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSet } from '../../adapters/dicom/dataset.js';
import { readDataSet, readPart10 } from '../../adapters/dicom/part10.js';
import { Tag } from '../../adapters/dicom/tags.js';
import { hasService } from '../../test/services.js';
import { canonicalContent, freePort, openTestDicom, storableCorpus, type TestDicom } from './test-support.js';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'services', 'orthanc.sh');
/** dcmtk (hence Orthanc) cannot parse this corpus file; it is refused there, which the tests check. */
const UNREADABLE_BY_DCMTK = 'dcm4che/Tag-0040-A170-VR-CS.dcm';

/** dcmtk re-encodes undefined lengths and group lengths, writes encapsulated pixel data as OB (and re-deflates deflated data sets). */
function dcmtkKeepsEncoding(dataSet: DataSet): boolean {
  for (const [tag, element] of dataSet.elements) {
    if ((tag & 0xffff) === 0) return false;
    if (element.fragments) {
      if (element.vr !== 'OB') return false;
      continue;
    }
    if (element.undefinedLength) return false;
    for (const item of element.items ?? []) if (!dcmtkKeepsEncoding(item)) return false;
  }
  return true;
}

describe.skipIf(!hasService('orthanc'))('forwarding to a real Orthanc', () => {
  let dicom: TestDicom;
  let work: string;
  let http: string;
  let orthancDicomPort: number;
  let env: NodeJS.ProcessEnv;
  const uids: string[] = [];
  const corpus = storableCorpus();

  const orthanc = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(`${http}${path}`, init);
    if (!response.ok) throw new Error(`Orthanc ${path}: ${response.status} ${await response.text()}`);
    return (
      response.headers.get('content-type')?.includes('json')
        ? response.json()
        : Buffer.from(await response.arrayBuffer())
    ) as Promise<T>;
  };
  const orthancId = async (uid: string) =>
    (await orthanc<Array<{ ID: string; Type: string }>>('/tools/lookup', { method: 'POST', body: uid })).find(
      (x) => x.Type === 'Instance',
    )?.ID;
  const clearOrthanc = async () => {
    for (const id of await orthanc<string[]>('/instances')) await orthanc(`/instances/${id}`, { method: 'DELETE' });
  };

  beforeAll(async () => {
    dicom = await openTestDicom();
    const ourPort = (await dicom.service.startDimse()).port;
    work = await mkdtemp(join(tmpdir(), 'keney-orthanc-'));
    const httpPort = await freePort();
    orthancDicomPort = await freePort();
    http = `http://127.0.0.1:${httpPort}`;
    env = {
      ...process.env,
      KENEY_ORTHANC_WORK: work,
      KENEY_ORTHANC_HTTP_PORT: String(httpPort),
      KENEY_ORTHANC_DICOM_PORT: String(orthancDicomPort),
      KENEY_DICOM_PORT: String(ourPort),
    };
    await run('bash', [SCRIPT, 'start'], { env, timeout: 90_000 });
    // Our store holds the corpus (each UID's last variant, as a user re-sending would leave it).
    for (const c of corpus) {
      const bytes = readFileSync(c.path);
      const stored = c.part10
        ? await dicom.service.receive({ file: bytes, source: { protocol: 'api' } })
        : await dicom.service.receive({
            dataSet: bytes,
            transferSyntaxUid: c.transferSyntaxUid,
            source: { protocol: 'api' },
          });
      if (!uids.includes(stored.identity.sopInstanceUid)) uids.push(stored.identity.sopInstanceUid);
    }
  });
  afterAll(async () => {
    if (env) await run('bash', [SCRIPT, 'stop'], { env, timeout: 30_000 }).catch(() => undefined);
    await dicom?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    'forwards every instance by C-STORE; Orthanc holds the same content, byte for byte where dcmtk keeps the encoding',
    { timeout: 120_000 },
    async () => {
      const unreadable = corpus.find((c) => c.name === UNREADABLE_BY_DCMTK)!.sopInstanceUid;
      // Orthanc neither answers nor aborts when dcmtk cannot parse a data set: a short response timeout ends it.
      const results = await dicom.service.forwardByCStore(
        { aeTitle: 'ORTHANC', host: '127.0.0.1', port: orthancDicomPort },
        uids,
        { maxAttempts: 1, limits: { responseTimeoutMs: 5000 } },
      );
      for (const result of results) {
        if (result.sopInstanceUid === unreadable) {
          expect(result.ok, 'dcmtk cannot parse it: Orthanc never answers').toBe(false);
          expect(result.error).toMatch(/No response to message/);
          continue;
        }
        expect(result, result.sopInstanceUid).toMatchObject({ ok: true, status: 0 });
      }
      let identical = 0;
      for (const uid of uids.filter((u) => u !== unreadable)) {
        const id = await orthancId(uid);
        expect(id, uid).toBeDefined();
        const theirs = readPart10(await orthanc<Buffer>(`/instances/${id}/file`));
        const ours = await dicom.service.store.read(uid);
        const oursFile = readPart10(ours!.file);
        expect(canonicalContent(theirs.dataSet), uid).toEqual(canonicalContent(oursFile.dataSet));
        if (!oursFile.transferSyntax.deflated && dcmtkKeepsEncoding(oursFile.dataSet)) {
          expect(
            theirs.bytes.subarray(theirs.dataSetOffset).equals(ours!.file.subarray(ours!.instance.dataSetOffset)),
            uid,
          ).toBe(true);
          identical++;
        }
      }
      expect(identical).toBeGreaterThanOrEqual(13); // corpus instances without undefined lengths, group lengths, OW fragments or deflate
    },
  );

  it('forwards by STOW-RS: Orthanc stores the very same Part-10 files', async () => {
    await clearOrthanc();
    const result = await dicom.service.forwardByStow(`${http}/dicom-web/studies`, uids, { maxAttempts: 1 });
    const unreadable = corpus.find((c) => c.name === UNREADABLE_BY_DCMTK)!.sopInstanceUid;
    for (const instance of result.instances) {
      if (instance.sopInstanceUid === unreadable) {
        expect(instance.ok).toBe(false);
        expect(instance.httpStatus).toBeGreaterThanOrEqual(400);
        continue;
      }
      expect(instance, instance.sopInstanceUid).toMatchObject({ ok: true });
      const id = await orthancId(instance.sopInstanceUid);
      const theirs = await orthanc<Buffer>(`/instances/${id}/file`);
      const ours = await dicom.service.store.read(instance.sopInstanceUid);
      expect(theirs.equals(ours!.file), instance.sopInstanceUid).toBe(true);
    }
  });

  it('receives from Orthanc: Orthanc pushes an instance to our AE KENEY (C-STORE into our SCP)', async () => {
    const uid = corpus.find((c) => c.name === 'pydicom/CT_small.dcm')!.sopInstanceUid;
    const id = await orthancId(uid);
    const before = (await dicom.service.index.findInstance(uid))!;
    await orthanc('/modalities/KENEY/store', {
      method: 'POST',
      body: JSON.stringify({ Resources: [id], Synchronous: true }),
    });
    const after = (await dicom.service.index.findInstance(uid))!;
    expect(after.sourceAeTitle).toBe('ORTHANC');
    expect(after.dataSetSha256 === before.dataSetSha256 ? after.version : after.version - 1).toBe(before.version);
  });

  it('retries a destination that is down, and delivers once it is up', async () => {
    const port = await freePort();
    const late = await openTestDicom({ aeTitle: 'LATEPACS', port }, dicom.sql);
    let retries = 0;
    try {
      const results = await dicom.service.forwardByCStore(
        { aeTitle: 'LATEPACS', host: '127.0.0.1', port },
        uids.slice(0, 2),
        {
          maxAttempts: 3,
          baseDelayMs: 10,
          onRetry: async () => {
            retries++;
            if (retries === 1) await late.service.startDimse();
          },
        },
      );
      expect(retries).toBe(1);
      expect(results.every((r) => r.ok && r.status === 0)).toBe(true);
    } finally {
      await late.service.stop();
    }
  });

  it('gives up after the attempts, keeping the reason for each instance', async () => {
    const port = await freePort();
    const results = await dicom.service.forwardByCStore(
      { aeTitle: 'NOBODY', host: '127.0.0.1', port },
      uids.slice(0, 2),
      { maxAttempts: 2, baseDelayMs: 1 },
    );
    expect(results.map((r) => r.ok)).toEqual([false, false]);
    expect(results[0]!.error).toMatch(/Cannot connect to NOBODY at 127\.0\.0\.1/);
  });
});

describe.skipIf(!hasService('dcmtk'))(
  'the C-STORE wire is byte-identical (dcmtk storescp in bit-preserving mode)',
  () => {
    it('storescp +B writes exactly the data set bytes we stored', { timeout: 120_000 }, async () => {
      const dicom = await openTestDicom();
      const dir = await mkdtemp(join(tmpdir(), 'keney-storescp-'));
      const port = await freePort();
      const scp = spawn('storescp', ['+B', '-od', dir, '-aet', 'PEER', '--accept-all', String(port)], {
        stdio: 'ignore',
      });
      try {
        const corpus = storableCorpus().filter((c) => c.name !== UNREADABLE_BY_DCMTK);
        const uids: string[] = [];
        for (const c of corpus) {
          const bytes = readFileSync(c.path);
          const stored = c.part10
            ? await dicom.service.receive({ file: bytes, source: { protocol: 'api' } })
            : await dicom.service.receive({
                dataSet: bytes,
                transferSyntaxUid: c.transferSyntaxUid,
                source: { protocol: 'api' },
              });
          if (!uids.includes(stored.identity.sopInstanceUid)) uids.push(stored.identity.sopInstanceUid);
        }
        const results = await dicom.service.forwardByCStore({ aeTitle: 'PEER', host: '127.0.0.1', port }, uids, {
          maxAttempts: 10,
          baseDelayMs: 100,
        });
        expect(results.filter((r) => !r.ok)).toEqual([]);
        const received = readdirSync(dir).map((f) => readPart10(readFileSync(join(dir, f))));
        expect(received).toHaveLength(uids.length);
        for (const file of received) {
          const uid = readDataSet(file.bytes.subarray(file.dataSetOffset), file.transferSyntax.uid).string(
            Tag.SOPInstanceUID,
          )!;
          const ours = await dicom.service.store.read(uid);
          const sent = ours!.file.subarray(ours!.instance.dataSetOffset);
          // An odd-length deflated data set travels with its pad byte.
          const expected = sent.length % 2 ? Buffer.concat([sent, Buffer.of(0)]) : sent;
          expect(file.bytes.subarray(file.dataSetOffset).equals(expected), uid).toBe(true);
        }
      } finally {
        scp.kill();
        await dicom.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);
