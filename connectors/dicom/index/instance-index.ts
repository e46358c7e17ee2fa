// The instance index: patient/study/series/instance rows with the attributes C-FIND and QIDO-RS answer
// from, over the SqlClient seam (PGlite embedded, PostgreSQL in cluster). Written only by InstanceStore.
import type { DicomJson, DicomJsonAttribute } from '../../../adapters/dicom/json-model.js';
import type { InstanceMetadata } from '../../../adapters/dicom/metadata.js';
import { hexTag } from '../../../adapters/dicom/dictionary.js';
import { searchableName } from '../../../adapters/dicom/person-name.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import type { SqlClient, SqlExecutor } from '../../../store/sql/sql-client.js';
import { QueryLevel } from './levels.js';
import { buildConditions, type DicomQuery } from './query.js';

export interface IndexedInstance {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  sopClassUid: string;
  instanceNumber?: number;
  transferSyntaxUid: string;
  blobSha256: string;
  blobSize: number;
  /** Where the data set starts in the stored Part-10 file. */
  dataSetOffset: number;
  /** sha256 of the data set bytes (idempotency key together with the transfer syntax). */
  dataSetSha256: string;
  numberOfFrames?: number;
  sourceAeTitle?: string;
  version: number;
  receivedAt: string;
  metadata: InstanceMetadata;
}

export interface IndexRecord {
  instance: Omit<IndexedInstance, 'version' | 'receivedAt'>;
  studyAttributes: DicomJson;
  seriesAttributes: DicomJson;
  instanceAttributes: DicomJson;
}

interface InstanceRow {
  sop_instance_uid: string;
  series_instance_uid: string;
  study_instance_uid: string;
  sop_class_uid: string;
  instance_number: number | null;
  transfer_syntax_uid: string;
  blob_sha256: string;
  blob_size: number | string;
  data_set_offset: number;
  data_set_sha256: string;
  number_of_frames: number | null;
  source_ae_title: string | null;
  version: number;
  received_at: Date | string;
  metadata: InstanceMetadata | string;
}

function json<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

function toInstance(row: InstanceRow): IndexedInstance {
  return {
    sopInstanceUid: row.sop_instance_uid,
    seriesInstanceUid: row.series_instance_uid,
    studyInstanceUid: row.study_instance_uid,
    sopClassUid: row.sop_class_uid,
    ...(row.instance_number !== null ? { instanceNumber: row.instance_number } : {}),
    transferSyntaxUid: row.transfer_syntax_uid,
    blobSha256: row.blob_sha256,
    blobSize: Number(row.blob_size),
    dataSetOffset: row.data_set_offset,
    dataSetSha256: row.data_set_sha256,
    ...(row.number_of_frames !== null ? { numberOfFrames: row.number_of_frames } : {}),
    ...(row.source_ae_title ? { sourceAeTitle: row.source_ae_title } : {}),
    version: row.version,
    receivedAt: new Date(row.received_at).toISOString(),
    metadata: json<InstanceMetadata>(row.metadata),
  };
}

const pnText = (attrs: DicomJson, tag: number): string | null => {
  const value = attrs[hexTag(tag)]?.Value?.[0] as
    { Alphabetic?: string; Ideographic?: string; Phonetic?: string } | null | undefined;
  if (!value) return null;
  return [value.Alphabetic ?? '', value.Ideographic ?? '', value.Phonetic ?? ''].join('=').replace(/=+$/, '') || null;
};

export interface QueryAnswer {
  /** One DICOM JSON object per match: the level's attributes, its parents', and computed attributes. */
  matches: DicomJson[];
  /** Matching keys that were ignored (not supported at that level or by this index). */
  ignored: number[];
}

export class InstanceIndex {
  constructor(readonly sql: SqlClient) {}

  async findInstance(sopInstanceUid: string, executor: SqlExecutor = this.sql): Promise<IndexedInstance | undefined> {
    const { rows } = await executor.query<InstanceRow>('SELECT * FROM dicom_instances WHERE sop_instance_uid = $1', [
      sopInstanceUid,
    ]);
    return rows[0] ? toInstance(rows[0]) : undefined;
  }

  /** Instances of a study / series (or one instance), ordered by series and instance number. */
  async instances(filter: {
    studyInstanceUid?: string;
    seriesInstanceUid?: string;
    sopInstanceUid?: string;
    /** Only the instances the canonical record has. */
    inRecord?: boolean;
    limit?: number;
  }): Promise<IndexedInstance[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.inRecord) where.push('i.in_record');
    if (filter.studyInstanceUid) where.push(`i.study_instance_uid = $${params.push(filter.studyInstanceUid)}`);
    if (filter.seriesInstanceUid) where.push(`i.series_instance_uid = $${params.push(filter.seriesInstanceUid)}`);
    if (filter.sopInstanceUid) where.push(`i.sop_instance_uid = $${params.push(filter.sopInstanceUid)}`);
    const limit = filter.limit ? ` LIMIT $${params.push(filter.limit)}` : '';
    const { rows } = await this.sql.query<InstanceRow>(
      `SELECT i.* FROM dicom_instances i JOIN dicom_series se ON se.series_instance_uid = i.series_instance_uid
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY se.series_number NULLS LAST, i.series_instance_uid, i.instance_number NULLS LAST, i.sop_instance_uid${limit}`,
      params,
    );
    return rows.map(toInstance);
  }

  /** Marks an instance as part of the canonical record (or not, when its record failed). */
  async setInRecord(sopInstanceUid: string, inRecord: boolean): Promise<void> {
    await this.sql.query('UPDATE dicom_instances SET in_record = $2 WHERE sop_instance_uid = $1', [
      sopInstanceUid,
      inRecord,
    ]);
  }

  /** Instances matched by a C-MOVE / C-GET identifier (level and unique keys). */
  async instancesForQuery(query: DicomQuery): Promise<IndexedInstance[]> {
    const { where, params } = buildConditions({ ...query, level: QueryLevel.Image, fuzzy: false });
    const { rows } = await this.sql.query<InstanceRow>(
      `SELECT i.* FROM dicom_instances i
         JOIN dicom_series se ON se.series_instance_uid = i.series_instance_uid
         JOIN dicom_studies st ON st.study_instance_uid = i.study_instance_uid
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY i.study_instance_uid, se.series_number NULLS LAST, i.series_instance_uid, i.instance_number NULLS LAST, i.sop_instance_uid`,
      params,
    );
    return rows.map(toInstance);
  }

  /** Writes (inserts or replaces) an instance and refreshes its series and study rows, in `tx`. */
  async upsert(tx: SqlExecutor, record: IndexRecord, previous?: IndexedInstance): Promise<number> {
    const i = record.instance;
    const s = record.studyAttributes;
    const m = i.metadata;
    const patientName = pnText(s, Tag.PatientName);
    const referring = pnText(s, Tag.ReferringPhysicianName);
    await tx.query(
      `INSERT INTO dicom_studies (study_instance_uid, patient_id, issuer_of_patient_id, patient_name, patient_name_search, patient_birth_date,
         patient_sex, study_date, study_time, accession_number, referring_physician_name, referring_physician_search, study_description, study_id, attributes, updated_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15, now())
       ON CONFLICT (study_instance_uid) DO UPDATE SET patient_id = EXCLUDED.patient_id, issuer_of_patient_id = EXCLUDED.issuer_of_patient_id,
         patient_name = EXCLUDED.patient_name, patient_name_search = EXCLUDED.patient_name_search, patient_birth_date = EXCLUDED.patient_birth_date,
         patient_sex = EXCLUDED.patient_sex, study_date = EXCLUDED.study_date, study_time = EXCLUDED.study_time, accession_number = EXCLUDED.accession_number,
         referring_physician_name = EXCLUDED.referring_physician_name, referring_physician_search = EXCLUDED.referring_physician_search,
         study_description = EXCLUDED.study_description, study_id = EXCLUDED.study_id, attributes = EXCLUDED.attributes, updated_at = now()`,
      [
        i.studyInstanceUid,
        m.patient.id?.value ?? null,
        m.patient.id?.issuer ?? null,
        patientName,
        searchableName(patientName ?? ''),
        m.patient.birthDate ?? null,
        m.patient.sex ?? null,
        m.study.date ?? null,
        m.study.time ?? null,
        m.study.accessionNumber ?? null,
        referring,
        searchableName(referring ?? ''),
        m.study.description ?? null,
        m.study.studyId ?? null,
        JSON.stringify(s),
      ],
    );
    await tx.query(
      `INSERT INTO dicom_series (series_instance_uid, study_instance_uid, modality, series_number, series_description, body_part_examined, series_date, series_time, attributes, updated_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9, now())
       ON CONFLICT (series_instance_uid) DO UPDATE SET study_instance_uid = EXCLUDED.study_instance_uid, modality = EXCLUDED.modality,
         series_number = EXCLUDED.series_number, series_description = EXCLUDED.series_description, body_part_examined = EXCLUDED.body_part_examined,
         series_date = EXCLUDED.series_date, series_time = EXCLUDED.series_time, attributes = EXCLUDED.attributes, updated_at = now()`,
      [
        i.seriesInstanceUid,
        i.studyInstanceUid,
        m.series.modality ?? null,
        Number.isInteger(m.series.number) ? m.series.number : null,
        m.series.description ?? null,
        m.series.bodyPartExamined ?? null,
        m.series.date ?? null,
        m.series.time ?? null,
        JSON.stringify(record.seriesAttributes),
      ],
    );
    let version = 1;
    if (previous) {
      version = previous.version + 1;
      await tx.query(
        `INSERT INTO dicom_instance_versions (sop_instance_uid, version, blob_sha256, data_set_sha256, transfer_syntax_uid, source_ae_title, received_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING`,
        [
          previous.sopInstanceUid,
          previous.version,
          previous.blobSha256,
          previous.dataSetSha256,
          previous.transferSyntaxUid,
          previous.sourceAeTitle ?? null,
          previous.receivedAt,
        ],
      );
    }
    await tx.query(
      `INSERT INTO dicom_instances (sop_instance_uid, series_instance_uid, study_instance_uid, sop_class_uid, instance_number, transfer_syntax_uid,
         blob_sha256, blob_size, data_set_offset, data_set_sha256, number_of_frames, attributes, metadata, source_ae_title, version, received_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15, now())
       ON CONFLICT (sop_instance_uid) DO UPDATE SET series_instance_uid = EXCLUDED.series_instance_uid, study_instance_uid = EXCLUDED.study_instance_uid,
         sop_class_uid = EXCLUDED.sop_class_uid, instance_number = EXCLUDED.instance_number, transfer_syntax_uid = EXCLUDED.transfer_syntax_uid,
         blob_sha256 = EXCLUDED.blob_sha256, blob_size = EXCLUDED.blob_size, data_set_offset = EXCLUDED.data_set_offset, data_set_sha256 = EXCLUDED.data_set_sha256,
         number_of_frames = EXCLUDED.number_of_frames, attributes = EXCLUDED.attributes, metadata = EXCLUDED.metadata, source_ae_title = EXCLUDED.source_ae_title,
         version = EXCLUDED.version, received_at = now()`,
      [
        i.sopInstanceUid,
        i.seriesInstanceUid,
        i.studyInstanceUid,
        i.sopClassUid,
        Number.isInteger(i.instanceNumber) ? i.instanceNumber : null,
        i.transferSyntaxUid,
        i.blobSha256,
        i.blobSize,
        i.dataSetOffset,
        i.dataSetSha256,
        Number.isInteger(i.numberOfFrames) ? i.numberOfFrames : null,
        JSON.stringify(record.instanceAttributes),
        JSON.stringify(m),
        i.sourceAeTitle ?? null,
        version,
      ],
    );
    if (
      previous &&
      (previous.seriesInstanceUid !== i.seriesInstanceUid || previous.studyInstanceUid !== i.studyInstanceUid)
    ) {
      // The instance moved: drop the series / study it left if they are now empty.
      await tx.query(
        'DELETE FROM dicom_series se WHERE se.series_instance_uid = $1 AND NOT EXISTS (SELECT 1 FROM dicom_instances i WHERE i.series_instance_uid = se.series_instance_uid)',
        [previous.seriesInstanceUid],
      );
      await tx.query(
        'DELETE FROM dicom_studies st WHERE st.study_instance_uid = $1 AND NOT EXISTS (SELECT 1 FROM dicom_series se WHERE se.study_instance_uid = st.study_instance_uid)',
        [previous.studyInstanceUid],
      );
    }
    return version;
  }

  /** Runs a C-FIND / QIDO-RS query; each match is level + parent attributes + computed ones. */
  async query(query: DicomQuery): Promise<QueryAnswer> {
    const { where, params, ignored } = buildConditions(query);
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const page = (ps: unknown[]) => {
      let sql = '';
      if (query.limit !== undefined) sql += ` LIMIT $${ps.push(query.limit)}`;
      if (query.offset) sql += ` OFFSET $${ps.push(query.offset)}`;
      return sql;
    };
    let sql: string;
    switch (query.level) {
      case QueryLevel.Patient:
        sql = `SELECT * FROM (
                 SELECT DISTINCT ON (coalesce(st.patient_id, ''), coalesce(st.issuer_of_patient_id, '')) st.attributes AS study_attributes,
                   (SELECT count(*) FROM dicom_studies x WHERE x.patient_id IS NOT DISTINCT FROM st.patient_id AND x.issuer_of_patient_id IS NOT DISTINCT FROM st.issuer_of_patient_id) AS n_studies,
                   (SELECT count(*) FROM dicom_series x JOIN dicom_studies y USING (study_instance_uid) WHERE y.patient_id IS NOT DISTINCT FROM st.patient_id AND y.issuer_of_patient_id IS NOT DISTINCT FROM st.issuer_of_patient_id) AS n_series,
                   (SELECT count(*) FROM dicom_instances x JOIN dicom_studies y USING (study_instance_uid) WHERE y.patient_id IS NOT DISTINCT FROM st.patient_id AND y.issuer_of_patient_id IS NOT DISTINCT FROM st.issuer_of_patient_id) AS n_instances,
                   st.patient_id AS sort_key
                 FROM dicom_studies st ${whereSql}
                 ORDER BY coalesce(st.patient_id, ''), coalesce(st.issuer_of_patient_id, ''), st.updated_at DESC) p
               ORDER BY sort_key NULLS LAST${page(params)}`;
        break;
      case QueryLevel.Study:
        sql = `SELECT st.attributes AS study_attributes,
                 (SELECT count(*) FROM dicom_series x WHERE x.study_instance_uid = st.study_instance_uid) AS n_series,
                 (SELECT count(*) FROM dicom_instances x WHERE x.study_instance_uid = st.study_instance_uid) AS n_instances,
                 (SELECT array_agg(DISTINCT x.modality) FROM dicom_series x WHERE x.study_instance_uid = st.study_instance_uid AND x.modality IS NOT NULL) AS modalities,
                 (SELECT array_agg(DISTINCT x.sop_class_uid) FROM dicom_instances x WHERE x.study_instance_uid = st.study_instance_uid) AS sop_classes
               FROM dicom_studies st ${whereSql}
               ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.study_instance_uid${page(params)}`;
        break;
      case QueryLevel.Series:
        sql = `SELECT st.attributes AS study_attributes, se.attributes AS series_attributes,
                 (SELECT count(*) FROM dicom_instances x WHERE x.series_instance_uid = se.series_instance_uid) AS n_instances
               FROM dicom_series se JOIN dicom_studies st ON st.study_instance_uid = se.study_instance_uid ${whereSql}
               ORDER BY st.study_instance_uid, se.series_number NULLS LAST, se.series_instance_uid${page(params)}`;
        break;
      case QueryLevel.Image:
        sql = `SELECT st.attributes AS study_attributes, se.attributes AS series_attributes, i.attributes AS instance_attributes
               FROM dicom_instances i JOIN dicom_series se ON se.series_instance_uid = i.series_instance_uid
                 JOIN dicom_studies st ON st.study_instance_uid = i.study_instance_uid ${whereSql}
               ORDER BY i.study_instance_uid, se.series_number NULLS LAST, i.series_instance_uid, i.instance_number NULLS LAST, i.sop_instance_uid${page(params)}`;
        break;
      default:
        query.level satisfies never;
        throw new Error('unreachable');
    }
    const { rows } = await this.sql.query<Record<string, unknown>>(sql, params);
    const matches = rows.map((row) => {
      const out: DicomJson = {};
      const put = (tag: number, attribute: DicomJsonAttribute) => {
        out[hexTag(tag)] = attribute;
      };
      Object.assign(out, json<DicomJson>(row.study_attributes as DicomJson));
      if (row.series_attributes) Object.assign(out, json<DicomJson>(row.series_attributes as DicomJson));
      if (row.instance_attributes) Object.assign(out, json<DicomJson>(row.instance_attributes as DicomJson));
      put(Tag.InstanceAvailability, { vr: 'CS', Value: ['ONLINE'] });
      switch (query.level) {
        case QueryLevel.Patient:
          put(Tag.NumberOfPatientRelatedStudies, { vr: 'IS', Value: [Number(row.n_studies)] });
          put(Tag.NumberOfPatientRelatedSeries, { vr: 'IS', Value: [Number(row.n_series)] });
          put(Tag.NumberOfPatientRelatedInstances, { vr: 'IS', Value: [Number(row.n_instances)] });
          break;
        case QueryLevel.Study:
          put(Tag.NumberOfStudyRelatedSeries, { vr: 'IS', Value: [Number(row.n_series)] });
          put(Tag.NumberOfStudyRelatedInstances, { vr: 'IS', Value: [Number(row.n_instances)] });
          if (Array.isArray(row.modalities) && row.modalities.length)
            put(Tag.ModalitiesInStudy, { vr: 'CS', Value: [...(row.modalities as string[])].sort() });
          if (Array.isArray(row.sop_classes) && row.sop_classes.length)
            put(Tag.SOPClassesInStudy, { vr: 'UI', Value: [...(row.sop_classes as string[])].sort() });
          break;
        case QueryLevel.Series:
          put(Tag.NumberOfSeriesRelatedInstances, { vr: 'IS', Value: [Number(row.n_instances)] });
          break;
        case QueryLevel.Image:
          break;
      }
      return out;
    });
    return { matches, ignored };
  }

  /** Counts, for tests and statistics. */
  async counts(): Promise<{ studies: number; series: number; instances: number }> {
    const { rows } = await this.sql.query<{ studies: number; series: number; instances: number }>(
      'SELECT (SELECT count(*) FROM dicom_studies)::int AS studies, (SELECT count(*) FROM dicom_series)::int AS series, (SELECT count(*) FROM dicom_instances)::int AS instances',
    );
    return rows[0]!;
  }
}
