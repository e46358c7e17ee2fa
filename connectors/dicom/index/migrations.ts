// Schema of the DICOM instance index (store/sql migrations; ids dicom-NNNN-…). Runs on PGlite and PostgreSQL.
import type { Migration } from '../../../store/sql/sql-client.js';

export const dicomMigrations: Migration[] = [
  {
    id: 'dicom-0001-instance-index',
    sql: `
CREATE TABLE dicom_studies (
  study_instance_uid text PRIMARY KEY,
  patient_id text,
  issuer_of_patient_id text,
  patient_name text,
  patient_name_search text NOT NULL DEFAULT '',
  patient_birth_date text,
  patient_sex text,
  study_date text,
  study_time text,
  accession_number text,
  referring_physician_name text,
  referring_physician_search text NOT NULL DEFAULT '',
  study_description text,
  study_id text,
  attributes jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dicom_studies_patient_id ON dicom_studies (patient_id);
CREATE INDEX dicom_studies_accession ON dicom_studies (accession_number);
CREATE INDEX dicom_studies_date ON dicom_studies (study_date);

CREATE TABLE dicom_series (
  series_instance_uid text PRIMARY KEY,
  study_instance_uid text NOT NULL REFERENCES dicom_studies (study_instance_uid) ON DELETE CASCADE,
  modality text,
  series_number integer,
  series_description text,
  body_part_examined text,
  series_date text,
  series_time text,
  attributes jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dicom_series_study ON dicom_series (study_instance_uid);
CREATE INDEX dicom_series_modality ON dicom_series (modality);

CREATE TABLE dicom_instances (
  sop_instance_uid text PRIMARY KEY,
  series_instance_uid text NOT NULL REFERENCES dicom_series (series_instance_uid) ON DELETE CASCADE,
  study_instance_uid text NOT NULL,
  sop_class_uid text NOT NULL,
  instance_number integer,
  transfer_syntax_uid text NOT NULL,
  blob_sha256 text NOT NULL,
  blob_size bigint NOT NULL,
  data_set_offset integer NOT NULL,
  data_set_sha256 text NOT NULL,
  number_of_frames integer,
  attributes jsonb NOT NULL,
  metadata jsonb NOT NULL,
  source_ae_title text,
  version integer NOT NULL DEFAULT 1,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dicom_instances_series ON dicom_instances (series_instance_uid);
CREATE INDEX dicom_instances_study ON dicom_instances (study_instance_uid);

-- Earlier contents of a SOP Instance UID received again with different bytes (nothing is lost).
CREATE TABLE dicom_instance_versions (
  sop_instance_uid text NOT NULL,
  version integer NOT NULL,
  blob_sha256 text NOT NULL,
  data_set_sha256 text NOT NULL,
  transfer_syntax_uid text NOT NULL,
  source_ae_title text,
  received_at timestamptz NOT NULL,
  superseded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sop_instance_uid, version)
);
`,
  },
  {
    // Which instances the canonical record has (a DICOM channel with a store destination took them): the
    // ImagingStudy lists those, whatever else the archive holds.
    id: 'dicom-0002-in-record',
    sql: `
ALTER TABLE dicom_instances ADD COLUMN in_record boolean NOT NULL DEFAULT false;
-- Before channels every archived instance went to the record: keep them in their studies.
UPDATE dicom_instances SET in_record = true;
CREATE INDEX dicom_instances_in_record ON dicom_instances (study_instance_uid) WHERE in_record;
`,
  },
];
