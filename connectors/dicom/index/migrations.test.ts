// dicom-0002-in-record on an archive made before it: the instances already there were all in the record
// (there were no channels then), so they stay in their studies; instances archived after it start outside.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../../store/blob/fs-blob-store.js';
import { migrate } from '../../../store/sql/migrate.js';
import type { SqlClient } from '../../../store/sql/sql-client.js';
import { openTestPglite } from '../../../test/databases.js';
import { DicomService } from '../dicom-service.js';
import { syntheticStudy } from '../record/test-support.js';
import { dicomMigrations } from './migrations.js';

describe('dicom-0002-in-record', () => {
  let sql: SqlClient & { close(): Promise<void> };
  let blobDir: string;
  beforeAll(async () => {
    sql = await openTestPglite();
    blobDir = await mkdtemp(join(tmpdir(), 'keney-dicom-migration-'));
  });
  afterAll(async () => {
    await sql?.close();
    if (blobDir) await rm(blobDir, { recursive: true, force: true });
  });

  it('keeps the instances archived before it in the record, and leaves later ones out until recorded', async () => {
    const first = dicomMigrations.findIndex((m) => m.id === 'dicom-0002-in-record');
    expect(first).toBeGreaterThan(0);
    await migrate(sql, dicomMigrations.slice(0, first));
    const dicom = await DicomService.create({ sql, blobs: new FsBlobStore(blobDir), migrate: false });
    const [before, after] = syntheticStudy(1, 2, { patientId: 'IPP-MIG', issuer: 'CH-TEST' });
    await dicom.store.store({ file: before!.file, source: { protocol: 'api' } });

    await migrate(sql, dicomMigrations);
    await dicom.store.store({ file: after!.file, source: { protocol: 'api' } });
    const inRecord = await dicom.index.instances({ studyInstanceUid: before!.studyInstanceUid, inRecord: true });
    expect(inRecord.map((i) => i.sopInstanceUid)).toEqual([before!.sopInstanceUid]);
    await dicom.index.setInRecord(after!.sopInstanceUid, true);
    expect(await dicom.index.instances({ studyInstanceUid: before!.studyInstanceUid, inRecord: true })).toHaveLength(2);
    await dicom.stop();
  });
});
