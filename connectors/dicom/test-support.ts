// Test helpers for connectors/dicom: a DicomService on a fresh PGlite clone and a temporary blob store,
// and a runner for the dcmtk command-line tools.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTestPglite } from '../../test/databases.js';
import { FsBlobStore } from '../../store/blob/fs-blob-store.js';
import type { SqlClient } from '../../store/sql/sql-client.js';
import { DicomService, type DicomServiceOptions } from './dicom-service.js';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { DataSet } from '../../adapters/dicom/dataset.js';
import { readDataSet, readPart10 } from '../../adapters/dicom/part10.js';
import { corpusFiles, corpusName, NOT_PART10, NOT_STORABLE } from '../../adapters/dicom/test-support.js';
import { Tag } from '../../adapters/dicom/tags.js';
import { TransferSyntax } from '../../adapters/dicom/uids.js';

export interface TestDicom {
  service: DicomService;
  sql: SqlClient;
  blobDir: string;
  close(): Promise<void>;
}

export async function openTestDicom(options: Partial<DicomServiceOptions> = {}, sql?: SqlClient): Promise<TestDicom> {
  const db = sql ?? (await openTestPglite());
  const blobDir = await mkdtemp(join(tmpdir(), 'keney-dicom-blobs-'));
  const service = await DicomService.create({
    sql: db,
    blobs: new FsBlobStore(blobDir),
    port: 0,
    host: '127.0.0.1',
    ...options,
  });
  return {
    service,
    sql: db,
    blobDir,
    async close() {
      await service.stop();
      if (!sql) await db.close();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a dcmtk tool; never rejects (the exit code is part of the result). */
export function runTool(tool: string, args: string[], timeoutMs = 60_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(tool, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error
        ? typeof (error as NodeJS.ErrnoException).code === 'number'
          ? Number((error as NodeJS.ErrnoException).code)
          : 1
        : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A free TCP port on loopback (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface CorpusInstance {
  name: string;
  path: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** A Part-10 file (false: a bare data set, see NOT_PART10). */
  part10: boolean;
}

/** The corpus files that are valid instances (storable), with their UIDs and transfer syntax. */
export function storableCorpus(): CorpusInstance[] {
  return corpusFiles()
    .map((path) => ({ path, name: corpusName(path) }))
    .filter(({ name }) => !NOT_STORABLE[name])
    .map(({ path, name }) => {
      const bytes = readFileSync(path);
      if (NOT_PART10.includes(name)) {
        const ts = name.includes('ExplVR')
          ? TransferSyntax.ExplicitVRLittleEndian
          : TransferSyntax.ImplicitVRLittleEndian;
        return {
          name,
          path,
          sopInstanceUid: readDataSet(bytes, ts).string(Tag.SOPInstanceUID)!,
          transferSyntaxUid: ts,
          part10: false,
        };
      }
      const file = readPart10(bytes);
      return {
        name,
        path,
        sopInstanceUid: file.dataSet.string(Tag.SOPInstanceUID)!,
        transferSyntaxUid: file.transferSyntax.uid,
        part10: true,
      };
    });
}

const BINARY_VRS = new Set([
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'UN',
  'US',
  'SS',
  'UL',
  'SL',
  'FL',
  'FD',
  'AT',
  'SV',
  'UV',
]);

/**
 * A canonical listing of a data set's content: every element (recursively) with its value bytes, ignoring
 * how lengths were encoded (defined/undefined), group length elements, trailing padding of text values,
 * and OB/OW on encapsulated pixel data — the freedoms a DICOM toolkit takes when it rewrites a file it received (dcmtk does).
 */
export function canonicalContent(dataSet: DataSet, path = ''): string[] {
  const out: string[] = [];
  for (const [tag, element] of [...dataSet.elements].sort((a, b) => a[0] - b[0])) {
    if ((tag & 0xffff) === 0) continue;
    const here = `${path}${tag.toString(16).padStart(8, '0')}`;
    if (element.items) {
      out.push(`${here} SQ ${element.items.length}`);
      element.items.forEach((item, i) => out.push(...canonicalContent(item, `${here}[${i}].`)));
    } else if (element.fragments) {
      out.push(
        `${here} fragments ${element.fragments.map((f) => dataSet.bytes.subarray(f.offset, f.offset + f.length).toString('base64')).join(',')}`,
      );
    } else {
      let value = dataSet.bytes.subarray(element.offset, element.offset + element.length);
      // Trailing padding of text values is not significant (and dcmtk trims extra spaces).
      if (!BINARY_VRS.has(element.vr)) value = Buffer.from(value.toString('latin1').replace(/[ \0]+$/, ''), 'latin1');
      out.push(`${here} ${element.vr} ${value.toString('base64')}`);
    }
  }
  return out;
}
