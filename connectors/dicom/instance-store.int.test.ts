// The instance store and index on both SQL profiles (PGlite embedded, PostgreSQL): idempotency, versions,
// queries. PGlite always runs; PostgreSQL when the test server is there.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticInstance } from '../../adapters/dicom/test-support.js';
import { Tag } from '../../adapters/dicom/tags.js';
import { FsBlobStore } from '../../store/blob/fs-blob-store.js';
import { migrate } from '../../store/sql/migrate.js';
import type { SqlClient } from '../../store/sql/sql-client.js';
import { openTestPglite, openTestPostgres } from '../../test/databases.js';
import { hasService } from '../../test/services.js';
import { QueryLevel } from './index/levels.js';
import { dicomMigrations } from './index/migrations.js';
import { InstanceStore, StoreError, StoreErrorCode, StoreOutcome } from './instance-store.js';

const profiles = [
  {
    name: 'pglite',
    available: () => true,
    open: async () => {
      const client = await openTestPglite();
      return { client, drop: () => client.close() };
    },
  },
  { name: 'postgres', available: () => hasService('postgres'), open: openTestPostgres },
];

for (const profile of profiles) {
  describe.skipIf(!profile.available())(`DICOM instance store on ${profile.name}`, () => {
    let sql: SqlClient;
    let drop: () => Promise<void>;
    let blobDir: string;
    let store: InstanceStore;
    const source = { protocol: 'api' as const, callingAeTitle: 'MODALITY1' };

    beforeAll(async () => {
      ({ client: sql, drop } = await profile.open());
      await migrate(sql, dicomMigrations);
      blobDir = await mkdtemp(join(tmpdir(), 'keney-dicom-store-'));
      store = new InstanceStore(sql, new FsBlobStore(blobDir));
    });
    afterAll(async () => {
      await drop?.();
      if (blobDir) await rm(blobDir, { recursive: true, force: true });
    });

    it('stores once, answers "unchanged" for the same data set even with another file meta', async () => {
      const instance = syntheticInstance();
      const first = await store.store({ file: instance.file, source });
      expect(first.outcome).toBe(StoreOutcome.Created);
      // Same data set, received by DIMSE (our own file meta around it): still the same instance.
      const again = await store.store({ dataSet: instance.dataSet, transferSyntaxUid: '1.2.840.10008.1.2.1', source });
      expect(again.outcome).toBe(StoreOutcome.Unchanged);
      expect(again.blob).toEqual(first.blob);
      const read = await store.read(instance.sopInstanceUid);
      expect(read!.file.equals(instance.file)).toBe(true);
    });

    it('replaces an instance sent again with other content, keeping the previous version', async () => {
      const first = syntheticInstance();
      const corrected = syntheticInstance({
        sopInstanceUid: first.sopInstanceUid,
        studyInstanceUid: first.studyInstanceUid,
        seriesInstanceUid: first.seriesInstanceUid,
        extra: [{ tag: Tag.PatientName, value: 'Dupont^Hélène^Marie' }],
      });
      const a = await store.store({ file: first.file, source });
      const b = await store.store({ file: corrected.file, source });
      expect(b.outcome).toBe(StoreOutcome.Replaced);
      expect(b.version).toBe(2);
      const versions = await sql.query<{ version: number; blob_sha256: string }>(
        'SELECT version, blob_sha256 FROM dicom_instance_versions WHERE sop_instance_uid = $1',
        [first.sopInstanceUid],
      );
      expect(versions.rows).toEqual([{ version: 1, blob_sha256: a.blob.sha256 }]);
      expect(await store.blobs.has(a.blob.sha256)).toBe(true);
      const answer = await store.index.query({
        level: QueryLevel.Study,
        matches: [{ tag: Tag.StudyInstanceUID, value: first.studyInstanceUid }],
      });
      expect(answer.matches[0]!['00100010']!.Value).toEqual([{ Alphabetic: 'Dupont^Hélène^Marie' }]);
    });

    it('moves an instance re-sent under another series, and drops the emptied series and study', async () => {
      const first = syntheticInstance();
      const moved = syntheticInstance({ sopInstanceUid: first.sopInstanceUid });
      await store.store({ file: first.file, source });
      await store.store({ file: moved.file, source });
      const oldStudy = await store.index.query({
        level: QueryLevel.Study,
        matches: [{ tag: Tag.StudyInstanceUID, value: first.studyInstanceUid }],
      });
      expect(oldStudy.matches).toEqual([]);
      const instance = await store.index.findInstance(first.sopInstanceUid);
      expect(instance!.seriesInstanceUid).toBe(moved.seriesInstanceUid);
    });

    it('refuses what is not a storable instance, with a code', async () => {
      const dir = syntheticInstance({ sopClassUid: '1.2.840.10008.1.3.10' });
      await expect(store.store({ file: dir.file, source })).rejects.toSatisfy(
        (e: unknown) => e instanceof StoreError && e.code === StoreErrorCode.NotStorage,
      );
      const noStudy = syntheticInstance({ extra: [{ tag: Tag.StudyInstanceUID, value: undefined }] });
      await expect(store.store({ file: noStudy.file, source })).rejects.toSatisfy(
        (e: unknown) =>
          e instanceof StoreError && e.code === StoreErrorCode.Invalid && /Study Instance UID/.test(e.message),
      );
    });

    it('answers patient-level queries grouped by Patient ID and issuer, with counts', async () => {
      const a = syntheticInstance({ extra: [{ tag: Tag.PatientID, value: 'P-77' }] });
      const b = syntheticInstance({ extra: [{ tag: Tag.PatientID, value: 'P-77' }] });
      await store.store({ file: a.file, source });
      await store.store({ file: b.file, source });
      const answer = await store.index.query({
        level: QueryLevel.Patient,
        matches: [{ tag: Tag.PatientID, value: 'P-77' }],
      });
      expect(answer.matches).toHaveLength(1);
      expect(answer.matches[0]!['00201200']!.Value).toEqual([2]);
      expect(answer.matches[0]!['00201204']!.Value).toEqual([2]);
    });

    it('keeps hostile matching values as data (parameters, escaped wildcards)', async () => {
      const answer = await store.index.query({
        level: QueryLevel.Study,
        matches: [{ tag: Tag.PatientID, value: "x'; DROP TABLE dicom_studies; --" }],
      });
      expect(answer.matches).toEqual([]);
      const percent = await store.index.query({
        level: QueryLevel.Study,
        matches: [{ tag: Tag.PatientID, value: '%' }],
      });
      expect(percent.matches).toEqual([]);
      expect((await store.index.counts()).studies).toBeGreaterThan(0);
    });
  });
}
