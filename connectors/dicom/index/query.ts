// The query model shared by C-FIND and QIDO-RS, and its translation to parameterized SQL over the index.
// Matching follows PS3.4 C.2.2.2: single value, wildcard (* ?), UID list, date/time range, universal
// (empty value); person names are matched case-insensitively, and with `fuzzy` word by word, accent- and
// case-insensitively on the start of each name component (PS3.18 "fuzzymatching").
import { searchableName } from '../../../adapters/dicom/person-name.js';
import { Tag } from '../../../adapters/dicom/tags.js';
import type { QueryLevel } from './levels.js';

export interface Match {
  tag: number;
  /** The matching value as DICOM writes it: `DUP*`, `20240101-20240131`, `1.2.3\1.2.4`, or '' (universal). */
  value: string;
}

export interface DicomQuery {
  level: QueryLevel;
  matches: Match[];
  fuzzy?: boolean;
  limit?: number;
  offset?: number;
}

export class QueryError extends Error {
  override readonly name = 'QueryError';
  constructor(
    message: string,
    readonly tag?: number,
  ) {
    super(message);
  }
}

type Kind = 'text' | 'pn' | 'date' | 'time' | 'uid' | 'int' | 'modalities';
interface Column {
  sql: string;
  kind: Kind;
  /** For PN: the search column. */
  search?: string;
  level: 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';
}

const COLUMNS = new Map<number, Column>([
  [Tag.PatientID, { sql: 'st.patient_id', kind: 'text', level: 'PATIENT' }],
  [Tag.IssuerOfPatientID, { sql: 'st.issuer_of_patient_id', kind: 'text', level: 'PATIENT' }],
  [Tag.PatientName, { sql: 'st.patient_name', kind: 'pn', search: 'st.patient_name_search', level: 'PATIENT' }],
  [Tag.PatientBirthDate, { sql: 'st.patient_birth_date', kind: 'date', level: 'PATIENT' }],
  [Tag.PatientSex, { sql: 'st.patient_sex', kind: 'text', level: 'PATIENT' }],
  [Tag.StudyInstanceUID, { sql: 'st.study_instance_uid', kind: 'uid', level: 'STUDY' }],
  [Tag.StudyDate, { sql: 'st.study_date', kind: 'date', level: 'STUDY' }],
  [Tag.StudyTime, { sql: 'st.study_time', kind: 'time', level: 'STUDY' }],
  [Tag.AccessionNumber, { sql: 'st.accession_number', kind: 'text', level: 'STUDY' }],
  [
    Tag.ReferringPhysicianName,
    { sql: 'st.referring_physician_name', kind: 'pn', search: 'st.referring_physician_search', level: 'STUDY' },
  ],
  [Tag.StudyDescription, { sql: 'st.study_description', kind: 'text', level: 'STUDY' }],
  [Tag.StudyID, { sql: 'st.study_id', kind: 'text', level: 'STUDY' }],
  [Tag.ModalitiesInStudy, { sql: 'st.study_instance_uid', kind: 'modalities', level: 'STUDY' }],
  [Tag.SeriesInstanceUID, { sql: 'se.series_instance_uid', kind: 'uid', level: 'SERIES' }],
  [Tag.Modality, { sql: 'se.modality', kind: 'text', level: 'SERIES' }],
  [Tag.SeriesNumber, { sql: 'se.series_number', kind: 'int', level: 'SERIES' }],
  [Tag.SeriesDescription, { sql: 'se.series_description', kind: 'text', level: 'SERIES' }],
  [Tag.BodyPartExamined, { sql: 'se.body_part_examined', kind: 'text', level: 'SERIES' }],
  [Tag.SeriesDate, { sql: 'se.series_date', kind: 'date', level: 'SERIES' }],
  [Tag.SOPInstanceUID, { sql: 'i.sop_instance_uid', kind: 'uid', level: 'IMAGE' }],
  [Tag.SOPClassUID, { sql: 'i.sop_class_uid', kind: 'uid', level: 'IMAGE' }],
  [Tag.InstanceNumber, { sql: 'i.instance_number', kind: 'int', level: 'IMAGE' }],
]);

const LEVEL_RANK = { PATIENT: 0, STUDY: 1, SERIES: 2, IMAGE: 3 } as const;

function likePattern(value: string): string {
  return value
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replace(/\*/g, '%')
    .replace(/\?/g, '_');
}

const hasWildcard = (value: string) => /[*?]/.test(value);

export interface SqlQuery {
  where: string[];
  params: unknown[];
  /** Keys present in the query that this index cannot match on (ignored, as PS3.4 allows). */
  ignored: number[];
}

/** Builds the WHERE conditions; `params` continues from `startParams`. */
export function buildConditions(query: DicomQuery, startParams: unknown[] = []): SqlQuery {
  const params = [...startParams];
  const where: string[] = [];
  const ignored: number[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  for (const match of query.matches) {
    const value = match.value.trim();
    const column = COLUMNS.get(match.tag);
    if (!column || LEVEL_RANK[column.level] > LEVEL_RANK[query.level]) {
      if (value !== '' && match.tag !== Tag.QueryRetrieveLevel && match.tag !== Tag.SpecificCharacterSet)
        ignored.push(match.tag);
      continue;
    }
    if (value === '' || value === '*') continue; // universal matching
    switch (column.kind) {
      case 'uid': {
        const list = value
          .split(/[\\,]/)
          .map((v) => v.trim())
          .filter(Boolean);
        where.push(list.length === 1 ? `${column.sql} = ${p(list[0])}` : `${column.sql} = ANY(${p(list)}::text[])`);
        break;
      }
      case 'text':
        where.push(
          hasWildcard(value)
            ? `${column.sql} LIKE ${p(likePattern(value))} ESCAPE '\\'`
            : `${column.sql} = ${p(value)}`,
        );
        break;
      case 'pn': {
        if (query.fuzzy) {
          const words = searchableName(value.replace(/[*?]/g, ' ')).trim().split(' ').filter(Boolean);
          for (const word of words) where.push(`${column.search} LIKE ${p(`% ${likePattern(word)}%`)} ESCAPE '\\'`);
        } else {
          where.push(
            hasWildcard(value)
              ? `lower(${column.sql}) LIKE lower(${p(likePattern(value))}) ESCAPE '\\'`
              : `lower(${column.sql}) = lower(${p(value)})`,
          );
        }
        break;
      }
      case 'date':
      case 'time': {
        const form = column.kind === 'date' ? /^\d{8}$/ : /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;
        const normalize = (v: string) => (column.kind === 'date' ? v.replace(/[.-]/g, '') : v.replace(/:/g, ''));
        const range = value.includes('-') ? value.split('-') : undefined;
        if (range && range.length === 2) {
          const [from, to] = range.map((v) => normalize(v!.trim())) as [string, string];
          for (const bound of [from, to]) {
            if (bound && !form.test(bound))
              throw new QueryError(
                `${column.kind === 'date' ? 'Date' : 'Time'} range bound ${JSON.stringify(bound)} is not ${column.kind === 'date' ? 'YYYYMMDD' : 'HHMMSS'}`,
                match.tag,
              );
          }
          if (from) where.push(`${column.sql} >= ${p(from)}`);
          if (to) where.push(`${column.sql} <= ${p(column.kind === 'time' ? `${to}\uffff` : to)}`);
          if (!from && !to) throw new QueryError('A range needs at least one bound', match.tag);
        } else {
          const single = column.kind === 'date' ? value.replace(/-/g, '') : normalize(value);
          if (!form.test(single))
            throw new QueryError(
              `${JSON.stringify(value)} is not a ${column.kind === 'date' ? 'date (YYYYMMDD) or date range (YYYYMMDD-YYYYMMDD)' : 'time (HHMMSS) or time range'}`,
              match.tag,
            );
          where.push(column.kind === 'date' ? `${column.sql} = ${p(single)}` : `${column.sql} LIKE ${p(`${single}%`)}`);
        }
        break;
      }
      case 'int': {
        const n = Number(value);
        if (!Number.isInteger(n)) throw new QueryError(`${JSON.stringify(value)} is not an integer`, match.tag);
        where.push(`${column.sql} = ${p(n)}`);
        break;
      }
      case 'modalities': {
        const list = value
          .split(/[\\,]/)
          .map((v) => v.trim())
          .filter(Boolean);
        where.push(
          `EXISTS (SELECT 1 FROM dicom_series ms WHERE ms.study_instance_uid = st.study_instance_uid AND ms.modality = ANY(${p(list)}::text[]))`,
        );
        break;
      }
      default:
        column.kind satisfies never;
    }
  }
  return { where, params, ignored };
}
