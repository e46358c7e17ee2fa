// The demo data set: a few synthetic French patients (test INS only, OID 1.2.250.1.213.1.4.10; fictitious
// OIDs under 1.2.250.1.999.2) with what a small hospital's systems would send about them — PAM-FR ADT with
// movements, lab results over several days (a rising potassium), a CDA report and a PDF report, an order, an
// appointment, a prescription, a CT study, the DIM's coding (CIM-10 diagnoses, CCAM acts), a provisional
// duplicate identity, a merge — and two messages that go wrong on purpose: a lab result with a unit nobody knows
// (quality error, to fix with edit-then-replay) and a result forwarded to a RIS that is down (replay once it is up).
//
// Pure: everything is computed from `now`, so the record always looks current and tests get the same content.
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { buildPart10 } from '../adapters/dicom/part10.js';
import { Tag } from '../adapters/dicom/tags.js';
import { encodeElements, type ElementValue } from '../adapters/dicom/writer.js';
import { insKey } from '../ui/src/lib/ins.js';
import { demoPdf } from './pdf.js';

export const DEMO = {
  sendingApplication: 'DEMO-SIH',
  facility: 'CH-DEMO',
  facilityOid: '1.2.250.1.999.2',
  ippOid: '1.2.250.1.999.2.1',
  ndaOid: '1.2.250.1.999.2.2',
  unitOid: '1.2.250.1.999.2.3',
  movementOid: '1.2.250.1.999.2.4',
  placerOid: '1.2.250.1.999.2.5',
  labOid: '1.2.250.1.999.2.6',
  documentOid: '1.2.250.1.999.2.7',
  appointmentOid: '1.2.250.1.999.2.9',
  pharmacyOid: '1.2.250.1.999.2.10',
  accessionOid: '1.2.250.1.999.2.11',
  testInsOid: '1.2.250.1.213.1.4.10',
  cim10: 'https://smt.esante.gouv.fr/terminologie-cim-10/',
  ccam: 'https://smt.esante.gouv.fr/terminologie-ccam/',
} as const;

export interface DemoPatient {
  key: string;
  ipp: string;
  /** 13 first characters; the key is computed. */
  insBody?: string;
  family: string;
  birthFamily?: string;
  given: string;
  birthDate: string;
  sex: 'F' | 'M';
  status: 'PROV' | 'RECUP' | 'VALI' | 'QUAL';
  address?: string;
}

/** The INS with its key (97 − first 13 mod 97, 2A → 19, 2B → 18). */
export function insOf(patient: DemoPatient): string | undefined {
  if (!patient.insBody) return undefined;
  return patient.insBody + String(insKey(patient.insBody)).padStart(2, '0');
}

export const PATIENTS = {
  helene: {
    key: 'helene',
    ipp: 'DEMO1001',
    insBody: '2520375056231',
    family: 'BERTRAND',
    birthFamily: 'LEROY',
    given: 'HÉLÈNE',
    birthDate: '1952-03-08',
    sex: 'F',
    status: 'QUAL',
    address: '14 RUE DES LILAS^^LYON^^69003^FRA^H',
  },
  heleneDuplicate: {
    key: 'heleneDuplicate',
    ipp: 'DEMO1099',
    family: 'BERTRAND',
    given: 'HELENE',
    birthDate: '1952-03-08',
    sex: 'F',
    status: 'PROV',
  },
  lucas: {
    key: 'lucas',
    ipp: 'DEMO1002',
    family: 'MOREAU',
    given: 'LUCAS',
    birthDate: '2019-06-21',
    sex: 'M',
    status: 'PROV',
  },
  ines: {
    key: 'ines',
    ipp: 'DEMO1003',
    insBody: '2901169123045',
    family: 'GARCIA',
    given: 'INÈS',
    birthDate: '1990-11-30',
    sex: 'F',
    status: 'VALI',
  },
  inesOld: {
    key: 'inesOld',
    ipp: 'DEMO1098',
    family: 'GARCIA',
    given: 'INES',
    birthDate: '1990-11-30',
    sex: 'F',
    status: 'PROV',
  },
  jeanPierre: {
    key: 'jeanPierre',
    ipp: 'DEMO1004',
    insBody: '1470975112087',
    family: 'LEFEBVRE',
    given: 'JEAN-PIERRE',
    birthDate: '1947-09-02',
    sex: 'M',
    status: 'RECUP',
  },
  camille: {
    key: 'camille',
    ipp: 'DEMO1005',
    insBody: '285072A004123',
    family: 'PETIT',
    given: 'CAMILLE',
    birthDate: '1985-07-14',
    sex: 'F',
    status: 'QUAL',
  },
} as const satisfies Record<string, DemoPatient>;

/** The channels of the demo: the hub's default inbound channel and the two in demo/channels/. */
export const DEMO_CHANNELS = {
  default: 'default-inbound',
  'lab-to-ris': 'demo-lab-to-ris',
  pharmacy: 'demo-pharmacy',
} as const;
export type DemoChannel = keyof typeof DEMO_CHANNELS;

/** A message to send, in order, with what the hub should answer. */
export interface DemoMessage {
  /** What it is, for the command's output. */
  label: string;
  controlId: string;
  hl7: string;
  /** AA expected, or AE for the message that fails on purpose. */
  expect: 'AA' | 'AE';
  /** Which channel it goes to: the default inbound one, or one of the demo's own (demo/channels/). */
  channel: DemoChannel;
}

export interface DemoDataset {
  messages: DemoMessage[];
  /** The DIM's coding, written through the FHIR API (a transaction). */
  dimBundle: Bundle;
  /** The CT study: Part-10 files for STOW-RS. */
  study: { studyInstanceUid: string; accessionNumber: string; instances: Buffer[] };
}

// ---------- HL7 v2 helpers ----------

/** HL7 TS in UTC: YYYYMMDDHHMMSS+0000. */
export function hl7Time(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}+0000`;
}

function hl7Date(date: string): string {
  return date.replaceAll('-', '');
}

/** Escapes the HL7 delimiters in free text. */
function text(value: string): string {
  return value
    .replace(/\\/g, '\\E\\')
    .replace(/\|/g, '\\F\\')
    .replace(/\^/g, '\\S\\')
    .replace(/&/g, '\\T\\')
    .replace(/~/g, '\\R\\');
}

const authority = (oid: string) => `${DEMO.facility}&${oid}&ISO`;

function msh(time: Date, type: string, controlId: string, version = '2.5'): string {
  return `MSH|^~\\&|${DEMO.sendingApplication}|${DEMO.facility}^${DEMO.facilityOid}^ISO|KENEY|HUB|${hl7Time(time)}||${type}|${controlId}|P|${version}|||||FRA|UNICODE UTF-8`;
}

function pid(p: DemoPatient, full = true): string {
  const ins = insOf(p);
  const ids = [
    `${p.ipp}^^^${authority(DEMO.ippOid)}^PI`,
    ...(ins ? [`${ins}^^^ASIP-SANTE-INS-NIR&${DEMO.testInsOid}&ISO^INS`] : []),
  ].join('~');
  const names = [
    `${p.birthFamily ?? p.family}^${p.given}^^^^^L`,
    ...(p.birthFamily ? [`${p.family}^${p.given}^^^^^D`] : []),
  ].join('~');
  const fields = [
    'PID',
    '1',
    '',
    ids,
    '',
    names,
    '',
    hl7Date(p.birthDate),
    p.sex,
    '',
    '',
    full && p.address ? p.address : '',
  ];
  while (fields.length < 33) fields.push('');
  fields[32] = p.status;
  return fields.join('|').replace(/\|+$/, '');
}

/** Organizations as PAM-FR ZBE-7/8 name them (XON with the UF code in XON-10). */
export const UNITS = {
  cardio: { code: '2001', name: 'UF CARDIOLOGIE' },
  cardioCare: { code: '2002', name: 'UF CARDIOLOGIE HOSPITALISATION' },
  usic: { code: '2011', name: 'UF SOINS INTENSIFS CARDIO' },
  pediatrics: { code: '3001', name: 'UF PEDIATRIE' },
  medicine: { code: '4001', name: 'UF MEDECINE INTERNE' },
} as const;

const DOCTOR = `10003456789^MARCHAND^SOPHIE^^^DR^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^RPPS`;
const LAB_DOCTOR = `10004567891^NGUYEN^THOMAS^^^DR^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^RPPS`;

function unitXon(unit: { code: string; name: string }): string {
  return `${unit.name}^^^^^${authority(DEMO.unitOid)}^UF^^^${unit.code}`;
}

interface Stay {
  nda: string;
  admitted: Date;
  discharged?: Date;
  patientClass: 'I' | 'O';
}

function pv1(stay: Stay, room: string, discharge = false): string {
  const fields = [
    'PV1',
    '1',
    stay.patientClass,
    `${room}^${authority(DEMO.facilityOid)}`,
    'R',
    '',
    '',
    DOCTOR,
    '',
    '',
    'MED',
  ];
  while (fields.length < 20) fields.push('');
  fields[19] = `${stay.nda}^^^${authority(DEMO.ndaOid)}^AN`;
  while (fields.length < 46) fields.push('');
  fields[44] = hl7Time(stay.admitted);
  if (discharge && stay.discharged) fields[45] = hl7Time(stay.discharged);
  return fields.join('|').replace(/\|+$/, '');
}

function zbe(
  movementId: string,
  at: Date,
  action: 'INSERT' | 'CANCEL',
  medical: { code: string; name: string },
  care: { code: string; name: string },
  original = '',
  nature = 'S',
): string {
  return `ZBE|${movementId}^${DEMO.sendingApplication}^${DEMO.movementOid}^ISO|${hl7Time(at)}||${action}|N|${original}|${unitXon(medical)}|${unitXon(care)}|${nature}`;
}

function adt(
  event: string,
  controlId: string,
  at: Date,
  patient: DemoPatient,
  stay: Stay,
  room: string,
  movement: {
    id: string;
    medical: { code: string; name: string };
    care: { code: string; name: string };
    action?: 'INSERT' | 'CANCEL';
    original?: string;
    nature?: string;
  },
  extra: string[] = [],
): string {
  return [
    msh(at, `ADT^${event}^${ADT_STRUCTURES[event] ?? 'ADT_A01'}`, controlId, '2.5^FRA^2.11'),
    `EVN||${hl7Time(at)}`,
    pid(patient),
    pv1(stay, room, event === 'A03'),
    zbe(
      movement.id,
      at,
      movement.action ?? 'INSERT',
      movement.medical,
      movement.care,
      movement.original,
      movement.nature,
    ),
    ...extra,
  ].join('\r');
}

/** HL7 v2.5 message structure of each ADT trigger event used here. */
const ADT_STRUCTURES: Record<string, string> = {
  A01: 'ADT_A01',
  A02: 'ADT_A02',
  A03: 'ADT_A03',
  A04: 'ADT_A01',
  A12: 'ADT_A12',
};

interface LabValue {
  code: string;
  label: string;
  value: string;
  unit: string;
  range: string;
  flag: 'N' | 'H' | 'L' | 'HH' | 'LL';
}

function oru(
  controlId: string,
  at: Date,
  collected: Date,
  patient: DemoPatient,
  stay: Stay | undefined,
  order: string,
  panel: { code: string; label: string },
  values: LabValue[],
  note?: string,
): string {
  const pv = stay ? pv1(stay, '2001^112^1') : 'PV1|1|O';
  const segments = [
    msh(at, 'ORU^R01^ORU_R01', controlId),
    pid(patient, false),
    pv,
    `ORC|RE|${order}^${DEMO.sendingApplication}^${DEMO.placerOid}^ISO|${order}-R^LAB-DEMO^${DEMO.labOid}^ISO||CM||||${hl7Time(collected)}|||${DOCTOR}`,
    `OBR|1|${order}^${DEMO.sendingApplication}^${DEMO.placerOid}^ISO|${order}-R^LAB-DEMO^${DEMO.labOid}^ISO|${panel.code}^${text(panel.label)}^L|||${hl7Time(collected)}|||||||${hl7Time(collected)}||${DOCTOR}||||||${hl7Time(at)}||CH|F`,
    ...values.flatMap((v, i) => [
      `OBX|${i + 1}|NM|${v.code}^${text(v.label)}^L||${v.value}|${v.unit}^${v.unit}^L|${v.range}|${v.flag}|||F|||${hl7Time(collected)}|||||||||${LAB_DOCTOR}`,
    ]),
    ...(note ? [`NTE|1|L|${text(note)}`] : []),
  ];
  return segments.join('\r');
}

function base64(text: string | Buffer): string {
  return (typeof text === 'string' ? Buffer.from(text, 'utf8') : text).toString('base64');
}

/** A CI-SIS-like CDA R2 with a structured body (synthetic). */
export function consultationCda(patient: DemoPatient, at: Date, documentId: string): string {
  const ins = insOf(patient)!;
  const ts = hl7Time(at);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const section = (code: string, title: string, body: string) =>
    `<component><section><code code="${code}" codeSystem="2.16.840.1.113883.6.1"/><title>${esc(title)}</title><text>${body}</text></section></component>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
<typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
<templateId root="1.2.250.1.213.1.1.1.1"/>
<id root="${DEMO.documentOid}" extension="${documentId}"/>
<code code="11488-4" codeSystem="2.16.840.1.113883.6.1" displayName="Note de consultation"/>
<title>Compte rendu de consultation de cardiologie</title>
<effectiveTime value="${ts}"/>
<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
<languageCode code="fr-FR"/>
<recordTarget><patientRole><id root="${DEMO.testInsOid}" extension="${ins}"/><id root="${DEMO.ippOid}" extension="${patient.ipp}"/>
<patient><name><given>${esc(patient.given)}</given><family qualifier="BR">${esc(patient.birthFamily ?? patient.family)}</family></name><administrativeGenderCode code="${patient.sex}" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="${hl7Date(patient.birthDate)}"/></patient></patientRole></recordTarget>
<author><time value="${ts}"/><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="810003456789"/><assignedPerson><name><prefix>Dr</prefix><given>Sophie</given><family>MARCHAND</family></name></assignedPerson></assignedAuthor></author>
<custodian><assignedCustodian><representedCustodianOrganization><id root="${DEMO.facilityOid}"/><name>Centre hospitalier de démonstration</name></representedCustodianOrganization></assignedCustodian></custodian>
<component><structuredBody>
${section('29299-5', 'Motif de consultation', '<paragraph>Dyspnée d’effort progressive depuis trois semaines, œdèmes des membres inférieurs.</paragraph>')}
${section('11348-0', 'Antécédents', '<list><item>Hypertension artérielle traitée depuis 2009</item><item>Insuffisance rénale chronique modérée</item><item>Allergie à la pénicilline (urticaire)</item></list>')}
${section('29545-1', 'Examen clinique', '<table><thead><tr><th>Mesure</th><th>Valeur</th></tr></thead><tbody><tr><td>Pression artérielle</td><td>148/86 mmHg</td></tr><tr><td>Fréquence cardiaque</td><td>92 /min</td></tr><tr><td>Poids</td><td>71 kg (+3 kg en un mois)</td></tr></tbody></table><paragraph>Crépitants aux deux bases, turgescence jugulaire.</paragraph>')}
${section('51848-0', 'Conclusion', '<paragraph><content styleCode="Bold">Décompensation cardiaque gauche</content> sur insuffisance cardiaque à fraction d’éjection altérée. Hospitalisation en cardiologie proposée ; surveillance de la kaliémie sous traitement.</paragraph>')}
</structuredBody></component>
</ClinicalDocument>
`;
}

// ---------- DICOM (a synthetic CT: a phantom, so thumbnails show something) ----------

const EXPLICIT_LE = { explicitVr: true, littleEndian: true } as const;
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** A deterministic UID under 2.25 (UUID-derived form) from a name and `now`. */
function uid(seed: string, now: Date): string {
  let h = 1469598103934665603n;
  for (const c of `${seed}@${now.toISOString().slice(0, 10)}`)
    h = ((h ^ BigInt(c.charCodeAt(0))) * 1099511628211n) & ((1n << 120n) - 1n);
  return `2.25.${h.toString()}`;
}

/** A 64×64 16-bit slice of an elliptic "thorax" phantom with two "lungs" and a "heart". */
function phantomSlice(index: number, count: number): Uint8Array {
  const size = 64;
  const pixels = new Uint16Array(size * size);
  const z = (index + 0.5) / count - 0.5;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (x - 31.5) / 30;
      const v = (y - 33) / 22;
      let hu = -1000;
      if (u * u + v * v < 1) hu = 40;
      for (const side of [-0.45, 0.45]) {
        const lu = (u - side) / 0.32;
        const lv = v / 0.7;
        if (lu * lu + lv * lv < 1 - z * z * 2) hu = -850;
      }
      const hu2 = (u + 0.12) / (0.22 + 0.1 * Math.cos(z * 3));
      const hv = (v - 0.15) / 0.3;
      if (hu2 * hu2 + hv * hv < 1) hu = 60;
      if (Math.abs(u) < 0.08 && v > 0.55 && v < 0.85) hu = 700;
      pixels[y * size + x] = hu + 1024;
    }
  }
  return new Uint8Array(pixels.buffer);
}

function ctStudy(patient: DemoPatient, at: Date, now: Date): DemoDataset['study'] {
  const studyUid = uid('study-ct-thorax', now);
  const accessionNumber = 'ACC-DEMO-0042';
  const ins = insOf(patient)!;
  const series = [
    { uid: uid('series-topogram', now), number: '1', description: 'Topogramme', count: 1 },
    { uid: uid('series-axial', now), number: '2', description: 'Thorax axial 5 mm', count: 12 },
  ];
  const instances: Buffer[] = [];
  for (const s of series) {
    for (let i = 0; i < s.count; i++) {
      const sop = uid(`${s.uid}/${i}`, now);
      const elements: ElementValue[] = [
        { tag: Tag.SpecificCharacterSet, value: 'ISO_IR 192' },
        { tag: Tag.SOPClassUID, value: CT_IMAGE_STORAGE },
        { tag: Tag.SOPInstanceUID, value: sop },
        { tag: Tag.StudyDate, value: hl7Time(at).slice(0, 8) },
        { tag: Tag.StudyTime, value: hl7Time(at).slice(8, 14) },
        { tag: Tag.AccessionNumber, value: accessionNumber },
        { tag: Tag.Modality, value: 'CT' },
        { tag: Tag.ReferringPhysicianName, value: 'MARCHAND^SOPHIE^^DR' },
        { tag: Tag.StudyDescription, value: 'Scanner thoracique sans injection' },
        { tag: Tag.SeriesDescription, value: s.description },
        { tag: Tag.PatientName, value: `${patient.family}^${patient.given}` },
        { tag: Tag.PatientID, value: patient.ipp },
        { tag: Tag.IssuerOfPatientID, value: DEMO.ippOid },
        {
          tag: Tag.OtherPatientIDsSequence,
          value: [
            [
              { tag: Tag.PatientID, value: ins },
              { tag: Tag.IssuerOfPatientID, value: DEMO.testInsOid },
            ],
          ],
        },
        { tag: Tag.PatientBirthDate, value: hl7Date(patient.birthDate) },
        { tag: Tag.PatientSex, value: patient.sex },
        { tag: Tag.StudyInstanceUID, value: studyUid },
        { tag: Tag.SeriesInstanceUID, value: s.uid },
        { tag: Tag.SeriesNumber, value: s.number },
        { tag: Tag.InstanceNumber, value: String(i + 1) },
        { tag: Tag.SamplesPerPixel, value: 1 },
        { tag: Tag.PhotometricInterpretation, value: 'MONOCHROME2' },
        { tag: Tag.Rows, value: 64 },
        { tag: Tag.Columns, value: 64 },
        { tag: Tag.BitsAllocated, value: 16 },
        { tag: Tag.BitsStored, value: 12 },
        { tag: Tag.HighBit, value: 11 },
        { tag: Tag.PixelRepresentation, value: 0 },
        { tag: Tag.WindowCenter, value: '-500' },
        { tag: Tag.WindowWidth, value: '1500' },
        { tag: Tag.RescaleIntercept, value: '-1024' },
        { tag: Tag.RescaleSlope, value: '1' },
        { tag: Tag.PixelData, vr: 'OW', value: phantomSlice(s.count === 1 ? 6 : i, s.count === 1 ? 12 : s.count) },
      ];
      const dataSet = encodeElements(
        elements.filter((e) => e.value !== undefined).sort((a, b) => a.tag - b.tag),
        EXPLICIT_LE,
      );
      instances.push(
        buildPart10(dataSet, {
          sopClassUid: CT_IMAGE_STORAGE,
          sopInstanceUid: sop,
          transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
        }),
      );
    }
  }
  return { studyInstanceUid: studyUid, accessionNumber, instances };
}

// ---------- the data set ----------

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A time `days` before `now`, at hh:mm UTC. */
function daysAgo(now: Date, days: number, hh: number, mm = 0): Date {
  const d = new Date(now.getTime() - days * DAY);
  d.setUTCHours(hh, mm, 0, 0);
  return d;
}

export function demoDataset(now = new Date()): DemoDataset {
  const p = PATIENTS;
  const messages: DemoMessage[] = [];
  let sequence = 0;
  const add = (label: string, hl7: string, expect: 'AA' | 'AE' = 'AA', channel: DemoMessage['channel'] = 'default') => {
    const controlId = /^MSH(?:\|[^|]*){9}/.exec(hl7)![0].split('|')[9]!;
    messages.push({ label, controlId, hl7, expect, channel });
    sequence++;
  };
  const id = (prefix: string) => `${prefix}${String(sequence + 1).padStart(4, '0')}`;

  // Hélène BERTRAND: a previous stay (8 months ago), then the current cardiology stay.
  const previous: Stay = {
    nda: '240008710',
    admitted: daysAgo(now, 240, 9, 30),
    discharged: daysAgo(now, 236, 14),
    patientClass: 'I',
  };
  add(
    'Hélène BERTRAND — admission (séjour précédent)',
    adt(
      'A01',
      id('ADT'),
      previous.admitted,
      p.helene,
      previous,
      '4001^210^1',
      { id: 'MVT-8701', medical: UNITS.medicine, care: UNITS.medicine },
      ['ZFM|8|||'],
    ),
  );
  add(
    'Hélène BERTRAND — sortie (séjour précédent)',
    adt(
      'A03',
      id('ADT'),
      previous.discharged!,
      p.helene,
      previous,
      '4001^210^1',
      { id: 'MVT-8702', medical: UNITS.medicine, care: UNITS.medicine },
      ['ZFM|8|8||'],
    ),
  );
  const cdaAt = daysAgo(now, 30, 10, 30);
  const cda = consultationCda(p.helene, cdaAt, 'CR-CARDIO-2207');
  add(
    'Hélène BERTRAND — compte rendu de consultation (CDA)',
    [
      msh(cdaAt, 'ORU^R01^ORU_R01', id('DOC')),
      pid(p.helene, false),
      `OBR|1|CR-CARDIO-2207^${DEMO.sendingApplication}^${DEMO.documentOid}^ISO|CR-CARDIO-2207^${DEMO.sendingApplication}^${DEMO.documentOid}^ISO|11488-4^Note de consultation^LN|||${hl7Time(cdaAt)}|||||||||${DOCTOR}||||||${hl7Time(cdaAt)}|||F`,
      `OBX|1|ED|11488-4^Note de consultation^LN||^TEXT^XML^Base64^${base64(cda)}||||||F|||${hl7Time(cdaAt)}`,
    ].join('\r'),
  );

  const stay: Stay = { nda: '250012340', admitted: daysAgo(now, 4, 8, 40), patientClass: 'I' };
  const admissionAllergy = `IAM|1|DA|PENI^Pénicilline^L|SV|Urticaire généralisée|A|ALL-1^${DEMO.sendingApplication}^${DEMO.facilityOid}^ISO||||${hl7Date('2009-05-01')}||${hl7Time(stay.admitted)}||||C`;
  add(
    'Hélène BERTRAND — admission en cardiologie',
    adt(
      'A01',
      id('ADT'),
      stay.admitted,
      p.helene,
      stay,
      '2001^112^1',
      { id: 'MVT-9101', medical: UNITS.cardio, care: UNITS.cardioCare },
      ['ZFM|8|||', admissionAllergy],
    ),
  );
  const toUsic = daysAgo(now, 3, 22, 10);
  add(
    'Hélène BERTRAND — mutation en soins intensifs',
    adt('A02', id('ADT'), toUsic, p.helene, stay, '2011^03^1', {
      id: 'MVT-9102',
      medical: UNITS.cardio,
      care: UNITS.usic,
    }),
  );
  const wrongTransfer = daysAgo(now, 2, 9, 0);
  add(
    'Hélène BERTRAND — mutation saisie par erreur',
    adt('A02', id('ADT'), wrongTransfer, p.helene, stay, '4001^214^1', {
      id: 'MVT-9103',
      medical: UNITS.medicine,
      care: UNITS.medicine,
    }),
  );
  add(
    'Hélène BERTRAND — annulation de la mutation erronée',
    adt('A12', id('ADT'), new Date(wrongTransfer.getTime() + 40 * 60_000), p.helene, stay, '2011^03^1', {
      id: 'MVT-9103',
      medical: UNITS.medicine,
      care: UNITS.medicine,
      action: 'CANCEL',
      original: 'A02',
    }),
  );
  const back = daysAgo(now, 1, 15, 30);
  add(
    'Hélène BERTRAND — retour en cardiologie',
    adt('A02', id('ADT'), back, p.helene, stay, '2001^118^2', {
      id: 'MVT-9104',
      medical: UNITS.cardio,
      care: UNITS.cardioCare,
    }),
  );

  // Lab results over the stay: potassium rising then easing, creatinine up, CRP.
  const series: [number, number, string, string, string, string, 'N' | 'H'][] = [
    [4, 9, '4.6', '96', '139', '8.2', 'N'],
    [3, 7, '5.2', '118', '137', '14.5', 'H'],
    [2, 7, '5.8', '141', '135', '22.0', 'H'],
    [1, 7, '5.5', '132', '136', '18.4', 'H'],
    [0, 6, '5.3', '124', '137', '12.1', 'H'],
  ];
  for (const [days, hour, k, crea, na, crp, kFlag] of series) {
    const collected = daysAgo(now, days, hour, 30);
    const at = new Date(collected.getTime() + 2 * HOUR);
    const order = `LAB-${hl7Time(collected).slice(2, 8)}`;
    add(
      `Hélène BERTRAND — bilan biologique du ${collected.toISOString().slice(0, 10)}`,
      oru(
        id('LAB'),
        at,
        collected,
        p.helene,
        stay,
        order,
        { code: 'IONO', label: 'Ionogramme sanguin' },
        [
          { code: 'K', label: 'Potassium', value: k, unit: 'mmol/l', range: '3.5-5.1', flag: kFlag },
          { code: 'NA', label: 'Sodium', value: na, unit: 'mmol/l', range: '135-145', flag: 'N' },
          {
            code: 'CREA',
            label: 'Créatinine',
            value: crea,
            unit: 'µmol/l',
            range: '45-90',
            flag: Number(crea) > 90 ? 'H' : 'N',
          },
          {
            code: 'CRP',
            label: 'Protéine C réactive',
            value: crp,
            unit: 'mg/l',
            range: '0-5',
            flag: Number(crp) > 5 ? 'H' : 'N',
          },
        ],
        days === 2 ? 'Hyperkaliémie contrôlée sur un second prélèvement.' : undefined,
      ),
    );
  }
  const hbAt = daysAgo(now, 3, 7, 30);
  add(
    'Hélène BERTRAND — NFS',
    oru(
      id('LAB'),
      new Date(hbAt.getTime() + HOUR),
      hbAt,
      p.helene,
      stay,
      'LAB-NFS-1',
      { code: 'NFS', label: 'Numération formule sanguine' },
      [
        { code: 'HB', label: 'Hémoglobine', value: '11.2', unit: 'g/dl', range: '12.0-16.0', flag: 'L' },
        { code: 'PLQ', label: 'Plaquettes', value: '231', unit: 'G/L', range: '150-400', flag: 'N' },
      ],
    ),
  );

  // Orders, prescription, appointment.
  const ctOrderAt = daysAgo(now, 3, 10, 0);
  add(
    'Hélène BERTRAND — demande de scanner thoracique',
    [
      msh(ctOrderAt, 'ORM^O01^ORM_O01', id('ORD')),
      pid(p.helene, false),
      pv1(stay, '2011^03^1'),
      `ORC|NW|CMD-CT-42^${DEMO.sendingApplication}^${DEMO.placerOid}^ISO|||||||${hl7Time(ctOrderAt)}|||${DOCTOR}`,
      `OBR|1|CMD-CT-42^${DEMO.sendingApplication}^${DEMO.placerOid}^ISO|ACC-DEMO-0042^RIS-DEMO^${DEMO.accessionOid}^ISO|ZBQK001^Scanner thoracique^L|R||||||||||${DOCTOR}`,
    ].join('\r'),
  );
  const rxAt = daysAgo(now, 3, 11, 0);
  add(
    'Hélène BERTRAND — prescription de furosémide (canal pharmacie)',
    [
      msh(rxAt, 'RDE^O11^RDE_O11', id('RX')),
      pid(p.helene, false),
      pv1(stay, '2011^03^1'),
      `ORC|NW|RX-551^${DEMO.sendingApplication}^${DEMO.pharmacyOid}^ISO|||||||${hl7Time(rxAt)}|||${DOCTOR}`,
      `RXE|^^^${hl7Time(rxAt)}|3400930008664^FUROSEMIDE 40 mg cp^CIP|40||mg^mg^UCUM|TAB^Tablet^HL70292||||30|TAB^Tablet^HL70292`,
      'RXR|PO^Oral^HL70162',
    ].join('\r'),
    'AA',
    'pharmacy',
  );
  const appointmentAt = new Date(daysAgo(now, -21, 8, 30));
  add(
    'Hélène BERTRAND — rendez-vous de consultation',
    [
      msh(daysAgo(now, 0, 9, 0), 'SIU^S12^SIU_S12', id('SCH')),
      `SCH|RDV-3310^${DEMO.sendingApplication}^${DEMO.appointmentOid}^ISO|RDV-3310^RDV^${DEMO.appointmentOid}^ISO|||||CONSULT^Consultation^L|NORMAL^Normal^HL70276|30|min|^^30^${hl7Time(appointmentAt)}^${hl7Time(new Date(appointmentAt.getTime() + 30 * 60_000))}`,
      pid(p.helene, false),
      'RGS|1',
      `AIS|1||CARDIO^Consultation de cardiologie^L|${hl7Time(appointmentAt)}`,
      `AIP|1||${DOCTOR}`,
    ].join('\r'),
  );
  const echoAt = daysAgo(now, 2, 14, 0);
  add(
    'Hélène BERTRAND — compte rendu d’échocardiographie (PDF)',
    [
      msh(echoAt, 'MDM^T02^MDM_T02', id('MDM'), '2.6'),
      `EVN||${hl7Time(echoAt)}`,
      pid(p.helene, false),
      pv1(stay, '2011^03^1'),
      `TXA|1|11522-0^Échocardiographie^LN|AP|${hl7Time(echoAt)}|${DOCTOR}|${hl7Time(echoAt)}||||||ECHO-5521^${DEMO.sendingApplication}^${DEMO.documentOid}^ISO|||||AU`,
      `OBX|1|ED|11522-0^Compte rendu d’échocardiographie^LN||^APPLICATION^PDF^Base64^${base64(demoPdf(p.helene, echoAt))}||||||F|||${hl7Time(echoAt)}`,
    ].join('\r'),
  );

  // A provisional duplicate of Hélène from another application: shown as a possible duplicate.
  add(
    'Hélène BERTRAND — identité provisoire créée aux urgences (doublon potentiel)',
    [
      msh(daysAgo(now, 4, 7, 55), 'ADT^A28^ADT_A05', id('ADT'), '2.5^FRA^2.11'),
      `EVN||${hl7Time(daysAgo(now, 4, 7, 55))}`,
      pid(p.heleneDuplicate),
      'PV1|1|N',
    ].join('\r'),
  );

  // Inès GARCIA: a provisional record merged into the validated one (identity history shows it).
  add(
    'Inès GARCIA — identité provisoire',
    [
      msh(daysAgo(now, 60, 10), 'ADT^A28^ADT_A05', id('ADT'), '2.5^FRA^2.11'),
      `EVN||${hl7Time(daysAgo(now, 60, 10))}`,
      pid(p.inesOld),
      'PV1|1|N',
    ].join('\r'),
  );
  add(
    'Inès GARCIA — identité validée',
    [
      msh(daysAgo(now, 59, 9), 'ADT^A28^ADT_A05', id('ADT'), '2.5^FRA^2.11'),
      `EVN||${hl7Time(daysAgo(now, 59, 9))}`,
      pid(p.ines),
      'PV1|1|N',
    ].join('\r'),
  );
  add(
    'Inès GARCIA — fusion des deux dossiers',
    [
      msh(daysAgo(now, 59, 9, 30), 'ADT^A40^ADT_A39', id('ADT'), '2.5^FRA^2.11'),
      `EVN||${hl7Time(daysAgo(now, 59, 9, 30))}`,
      pid(p.ines),
      `MRG|${p.inesOld.ipp}^^^${authority(DEMO.ippOid)}^PI`,
    ].join('\r'),
  );

  // Lucas MOREAU: an outpatient visit in paediatrics.
  const lucasVisit: Stay = { nda: '250015020', admitted: daysAgo(now, 12, 14, 0), patientClass: 'O' };
  add(
    'Lucas MOREAU — consultation externe',
    adt('A04', id('ADT'), lucasVisit.admitted, p.lucas, lucasVisit, '3001^C2^1', {
      id: 'MVT-9201',
      medical: UNITS.pediatrics,
      care: UNITS.pediatrics,
    }),
  );

  // Camille PETIT: INS with a Corsican department (2A).
  const camilleVisit: Stay = {
    nda: '250016100',
    admitted: daysAgo(now, 20, 9, 0),
    discharged: daysAgo(now, 20, 17, 0),
    patientClass: 'O',
  };
  add(
    'Camille PETIT — consultation externe',
    adt('A04', id('ADT'), camilleVisit.admitted, p.camille, camilleVisit, '4001^C1^1', {
      id: 'MVT-9301',
      medical: UNITS.medicine,
      care: UNITS.medicine,
    }),
  );
  const glyAt = daysAgo(now, 20, 9, 30);
  add(
    'Camille PETIT — glycémie',
    oru(
      id('LAB'),
      new Date(glyAt.getTime() + HOUR),
      glyAt,
      p.camille,
      camilleVisit,
      'LAB-GLY-1',
      { code: 'GLY', label: 'Glycémie à jeun' },
      [{ code: 'GLY', label: 'Glucose', value: '5.1', unit: 'mmol/l', range: '4.1-5.9', flag: 'N' }],
    ),
  );

  // Jean-Pierre LEFEBVRE: admitted; a result with an unknown unit (quality error → edit then replay).
  const jpStay: Stay = { nda: '250017770', admitted: daysAgo(now, 1, 11, 0), patientClass: 'I' };
  add(
    'Jean-Pierre LEFEBVRE — admission en médecine',
    adt('A01', id('ADT'), jpStay.admitted, p.jeanPierre, jpStay, '4001^221^1', {
      id: 'MVT-9401',
      medical: UNITS.medicine,
      care: UNITS.medicine,
    }),
  );
  const jpLab = daysAgo(now, 0, 6, 45);
  add(
    'Jean-Pierre LEFEBVRE — glycémie avec une unité inconnue (erreur voulue : à corriger puis rejouer)',
    oru(
      id('LAB'),
      new Date(jpLab.getTime() + HOUR),
      jpLab,
      p.jeanPierre,
      jpStay,
      'LAB-GLY-7',
      { code: 'GLY', label: 'Glycémie' },
      [{ code: 'GLY', label: 'Glucose', value: '9.8', unit: 'mmol/lt', range: '4.1-5.9', flag: 'H' }],
    ),
    'AE',
  );
  // The same lab's potassium, sent through the demo lab-to-RIS channel: accepted and stored, then forwarded to a RIS
  // that is not running — the delivery fails, and the message waits in the error state for a replay.
  const jpK = daysAgo(now, 0, 6, 50);
  add(
    'Jean-Pierre LEFEBVRE — kaliémie transmise au RIS (RIS arrêté : envoi en échec, à rejouer)',
    oru(
      id('FWD'),
      new Date(jpK.getTime() + HOUR),
      jpK,
      p.jeanPierre,
      jpStay,
      'LAB-K-7',
      { code: 'IONO', label: 'Ionogramme sanguin' },
      [{ code: 'K', label: 'Potassium', value: '3.2', unit: 'mmol/l', range: '3.5-5.1', flag: 'L' }],
    ),
    'AA',
    'lab-to-ris',
  );

  return {
    messages,
    dimBundle: dimBundle(now, stay, previous),
    study: ctStudy(p.helene, daysAgo(now, 3, 11, 20), now),
  };
}

/** The DIM's coding of Hélène's stays: CIM-10 diagnoses and CCAM acts, linked to the stay by its NDA. */
function dimBundle(now: Date, stay: Stay, previous: Stay): Bundle {
  const patient = { reference: `Patient?identifier=urn:oid:${DEMO.ippOid}|${PATIENTS.helene.ipp}` };
  const encounter = (s: Stay) => ({ reference: `Encounter?identifier=urn:oid:${DEMO.ndaOid}|${s.nda}` });
  const category = (code: string, display: string) => [
    { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code, display }] },
  ];
  const entries: BundleEntry[] = [];
  const condition = (idValue: string, s: Stay, code: string, label: string, kind: 'DP' | 'DAS', recorded: Date) =>
    entries.push({
      request: { method: 'PUT', url: `Condition?identifier=urn:oid:${DEMO.facilityOid}.20|${idValue}` },
      resource: {
        resourceType: 'Condition',
        identifier: [{ system: `urn:oid:${DEMO.facilityOid}.20`, value: idValue }],
        clinicalStatus: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
        },
        verificationStatus: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
        },
        category: [
          ...category('encounter-diagnosis', 'Encounter Diagnosis'),
          { text: kind === 'DP' ? 'Diagnostic principal (DP)' : 'Diagnostic associé significatif (DAS)' },
        ],
        code: { coding: [{ system: DEMO.cim10, code, display: label }], text: label },
        subject: patient,
        encounter: encounter(s),
        recordedDate: recorded.toISOString(),
      },
    });
  const act = (idValue: string, s: Stay, code: string, label: string, performed: Date) =>
    entries.push({
      request: { method: 'PUT', url: `Procedure?identifier=urn:oid:${DEMO.facilityOid}.21|${idValue}` },
      resource: {
        resourceType: 'Procedure',
        identifier: [{ system: `urn:oid:${DEMO.facilityOid}.21`, value: idValue }],
        status: 'completed',
        code: { coding: [{ system: DEMO.ccam, code, display: label }], text: label },
        subject: patient,
        encounter: encounter(s),
        performedDateTime: performed.toISOString(),
        performer: [{ actor: { display: 'Dr Sophie MARCHAND' } }],
      },
    });
  condition('DIAG-9101-1', stay, 'I50.1', 'Insuffisance ventriculaire gauche', 'DP', daysAgo(now, 1, 16));
  condition('DIAG-9101-2', stay, 'E87.5', 'Hyperkaliémie', 'DAS', daysAgo(now, 1, 16));
  condition('DIAG-9101-3', stay, 'N18.3', 'Maladie rénale chronique, stade 3', 'DAS', daysAgo(now, 1, 16));
  condition('DIAG-8701-1', previous, 'I10', 'Hypertension essentielle', 'DP', daysAgo(now, 236, 16));
  act('ACTE-9101-1', stay, 'DEQP003', 'Électrocardiographie sur au moins 12 dérivations', daysAgo(now, 4, 9, 10));
  act(
    'ACTE-9101-2',
    stay,
    'DZQM006',
    'Échographie-doppler transthoracique du cœur et des vaisseaux intrathoraciques',
    daysAgo(now, 2, 13, 30),
  );
  act('ACTE-8701-1', previous, 'DEQP003', 'Électrocardiographie sur au moins 12 dérivations', daysAgo(now, 240, 10));
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}
