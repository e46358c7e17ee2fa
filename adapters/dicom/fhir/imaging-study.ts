// A DICOM study (the metadata of its instances) → FHIR R4 ImagingStudy. Pure: the Patient and the
// ServiceRequest are referenced by identifier (INS or Patient ID + issuer; accession number), for the
// phase-2 wiring to reconcile; the endpoint is a placeholder reference to our DICOMweb.
import type {
  Coding,
  Endpoint,
  ImagingStudy,
  ImagingStudySeries,
  ImagingStudySeriesInstance,
  Reference,
} from '@medplum/fhirtypes';
import type { InstanceMetadata } from '../metadata.js';
import {
  accessionIdentifier,
  codeableConcept,
  DCM_SYSTEM,
  fhirDateTime,
  patientReference,
  personNameDisplay,
  uidIdentifier,
  type MappingOptions,
} from './common.js';

const SNOMED = 'http://snomed.info/sct';

/**
 * Body Part Examined (0018,0015) defined terms → SNOMED CT, after PS3.16 Annex L. Codes only: SNOMED
 * descriptions are not shipped (DESIGN.md); a term without a code keeps the DICOM term as display.
 */
const BODY_PART_SNOMED: Record<string, string> = {
  ABDOMEN: '818981001',
  BLADDER: '89837001',
  BRAIN: '12738006',
  BREAST: '76752008',
  CHEST: '43799004',
  CSPINE: '122494005',
  FOOT: '56459004',
  HAND: '85562004',
  HEAD: '69536005',
  HEART: '80891009',
  KIDNEY: '64033007',
  KNEE: '72696002',
  LIVER: '10200004',
  LSPINE: '122496007',
  LUNG: '39607008',
  NECK: '45048000',
  PELVIS: '816092008',
  SHOULDER: '16982005',
  SKULL: '89546000',
  SPINE: '421060004',
  TSPINE: '122495006',
  WHOLEBODY: '38266002',
};
const LATERALITY_SNOMED: Record<string, string> = { R: '24028007', L: '7771000', B: '51440002' };

export function bodySiteCoding(term: string | undefined): Coding | undefined {
  if (!term) return undefined;
  const code = BODY_PART_SNOMED[term.toUpperCase()];
  return code ? { system: SNOMED, code } : { display: term };
}

function compareNumbers(a: number | undefined, b: number | undefined): number {
  return (a ?? Number.MAX_SAFE_INTEGER) - (b ?? Number.MAX_SAFE_INTEGER);
}

/** Maps all known instances of one study to an ImagingStudy (instances of other studies are ignored). */
export function toImagingStudy(instances: readonly InstanceMetadata[], options: MappingOptions = {}): ImagingStudy {
  const first = instances[0];
  if (!first) throw new RangeError('toImagingStudy needs at least one instance of the study');
  const studyUid = first.study.studyInstanceUid;
  const own = instances.filter((i) => i.study.studyInstanceUid === studyUid);
  const endpoint = (options.endpoint ?? { reference: 'Endpoint/keney-dicomweb' }) as Reference<Endpoint>;
  const seriesMap = new Map<string, InstanceMetadata[]>();
  for (const i of own) {
    const list = seriesMap.get(i.series.seriesInstanceUid) ?? [];
    if (!list.some((x) => x.instance.sopInstanceUid === i.instance.sopInstanceUid)) list.push(i);
    seriesMap.set(i.series.seriesInstanceUid, list);
  }
  const series: ImagingStudySeries[] = [...seriesMap.values()]
    .sort(
      (a, b) =>
        compareNumbers(a[0]!.series.number, b[0]!.series.number) ||
        a[0]!.series.seriesInstanceUid.localeCompare(b[0]!.series.seriesInstanceUid),
    )
    .map((list) => {
      const s = list[0]!.series;
      const out: ImagingStudySeries = {
        uid: s.seriesInstanceUid,
        modality: { system: DCM_SYSTEM, code: s.modality ?? 'OT' },
        numberOfInstances: list.length,
        endpoint: [endpoint],
      };
      if (s.number !== undefined) out.number = s.number;
      if (s.description) out.description = s.description;
      const bodySite = bodySiteCoding(s.bodyPartExamined);
      if (bodySite) out.bodySite = bodySite;
      const laterality = s.laterality ? LATERALITY_SNOMED[s.laterality.toUpperCase()] : undefined;
      if (laterality) out.laterality = { system: SNOMED, code: laterality };
      const started = fhirDateTime(s.date, s.time, list[0]!.study.timezoneOffset, options.timeZone);
      if (started) out.started = started;
      const performer = personNameDisplay(s.performingPhysicianName);
      if (performer) out.performer = [{ actor: { display: performer } }];
      out.instance = list
        .sort(
          (a, b) =>
            compareNumbers(a.instance.number, b.instance.number) ||
            a.instance.sopInstanceUid.localeCompare(b.instance.sopInstanceUid),
        )
        .map((i) => {
          const instance: ImagingStudySeriesInstance = {
            uid: i.instance.sopInstanceUid,
            sopClass: { system: 'urn:ietf:rfc:3986', code: `urn:oid:${i.instance.sopClassUid}` },
          };
          if (i.instance.number !== undefined) instance.number = i.instance.number;
          if (i.instance.title) instance.title = i.instance.title;
          return instance;
        });
      return out;
    });

  const study = first.study;
  const identifiers = [uidIdentifier(studyUid)];
  const accession = accessionIdentifier(first, options);
  if (accession) identifiers.push(accession);
  if (study.studyId) identifiers.push({ system: 'urn:keney:dicom:study-id', value: study.studyId });

  const modalities = [...new Set(series.map((s) => s.modality.code!))].map((code) => ({ system: DCM_SYSTEM, code }));
  const result: ImagingStudy = {
    resourceType: 'ImagingStudy',
    identifier: identifiers,
    status: 'available',
    modality: modalities,
    subject: patientReference(first, options),
    endpoint: [endpoint],
    numberOfSeries: series.length,
    numberOfInstances: series.reduce((n, s) => n + (s.numberOfInstances ?? 0), 0),
    series,
  };
  const started = fhirDateTime(study.date, study.time, study.timezoneOffset, options.timeZone);
  if (started) result.started = started;
  if (accession) result.basedOn = [{ type: 'ServiceRequest', identifier: accession }];
  const referrer = personNameDisplay(study.referringPhysicianName);
  if (referrer) result.referrer = { display: referrer };
  if (study.description) result.description = study.description;
  if (study.procedureCodes.length) result.procedureCode = study.procedureCodes.map(codeableConcept);
  return result;
}
