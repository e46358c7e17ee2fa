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

export interface TestDicom {
  service: DicomService;
  sql: SqlClient;
  blobDir: string;
  close(): Promise<void>;
}

export async function openTestDicom(options: Partial<DicomServiceOptions> = {}, sql?: SqlClient): Promise<TestDicom> {
  const db = sql ?? (await openTestPglite());
  const blobDir = await mkdtemp(join(tmpdir(), 'keney-dicom-blobs-'));
  const service = await DicomService.create({ sql: db, blobs: new FsBlobStore(blobDir), port: 0, host: '127.0.0.1', ...options });
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
      const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? Number((error as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
