// DICOM Structured Report → FHIR R4 DiagnosticReport with the content tree rendered as text
// (presentedForm text/plain and the narrative). Codes keep their scheme (LOINC, SNOMED CT, DCM…).
import type { DiagnosticReport } from '@medplum/fhirtypes';
import type { DataSet } from '../dataset.js';
import { DicomError, DicomErrorCode } from '../errors.js';
import type { InstanceMetadata } from '../metadata.js';
import { Tag } from '../tags.js';
import { isStructuredReport } from '../uids.js';
import {
  accessionIdentifier,
  codeableConcept,
  fhirDate,
  fhirDateTime,
  patientReference,
  personNameDisplay,
  uidIdentifier,
  type MappingOptions,
} from './common.js';
import { parsePersonName } from '../person-name.js';

function conceptName(item: DataSet): string | undefined {
  const code = item.sequence(Tag.ConceptNameCodeSequence)[0];
  return code?.string(Tag.CodeMeaning) ?? code?.string(Tag.CodeValue);
}

function valueText(item: DataSet): string | undefined {
  const type = item.string(Tag.ValueType);
  switch (type) {
    case 'TEXT':
      return item.string(Tag.TextValue);
    case 'CODE': {
      const code = item.sequence(Tag.ConceptCodeSequence)[0];
      return code?.string(Tag.CodeMeaning) ?? code?.string(Tag.CodeValue);
    }
    case 'NUM': {
      const measured = item.sequence(Tag.MeasuredValueSequence)[0];
      if (!measured) return undefined;
      const unit = measured.sequence(Tag.MeasurementUnitsCodeSequence)[0];
      const unitText = unit?.string(Tag.CodeValue) ?? unit?.string(Tag.CodeMeaning);
      return [measured.string(Tag.NumericValue), unitText].filter(Boolean).join(' ');
    }
    case 'DATETIME':
      return item.string(Tag.DateTime);
    case 'DATE':
      return fhirDate(item.string(Tag.Date)) ?? item.string(Tag.Date);
    case 'TIME':
      return item.string(Tag.Time);
    case 'PNAME':
      return personNameDisplay(parsePersonName(item.string(Tag.PersonName) ?? ''));
    case 'UIDREF':
      return item.string(Tag.UID);
    case 'IMAGE':
    case 'COMPOSITE':
    case 'WAVEFORM': {
      const ref = item.sequence(Tag.ReferencedSOPSequence)[0];
      const uid = ref?.string(Tag.ReferencedSOPInstanceUID);
      return uid ? `[${type.toLowerCase()} ${uid}]` : undefined;
    }
    default:
      return undefined;
  }
}

/** The SR content tree as indented text: one line per content item, "Concept: value". */
export function renderContentTree(root: DataSet): string {
  const lines: string[] = [];
  const walk = (item: DataSet, depth: number, budget: { left: number }) => {
    for (const child of item.sequence(Tag.ContentSequence)) {
      if (budget.left-- <= 0) return;
      const name = conceptName(child);
      const value = valueText(child);
      const text = name && value ? `${name}: ${value}` : (name ?? value);
      if (text) lines.push(`${'  '.repeat(depth)}${text}`);
      walk(child, depth + 1, budget);
    }
  };
  const title = conceptName(root);
  if (title) lines.push(title);
  walk(root, title ? 1 : 0, { left: 100_000 });
  return lines.join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function toDiagnosticReport(
  dataSet: DataSet,
  meta: InstanceMetadata,
  options: MappingOptions = {},
): DiagnosticReport {
  if (!isStructuredReport(meta.instance.sopClassUid)) {
    throw new DicomError(
      DicomErrorCode.WrongKind,
      `SOP class ${meta.instance.sopClassUid} is not a Structured Report: it cannot become a DiagnosticReport`,
    );
  }
  const text = renderContentTree(dataSet);
  const completion = dataSet.string(Tag.CompletionFlag);
  const verification = dataSet.string(Tag.VerificationFlag);
  const status: DiagnosticReport['status'] =
    completion === 'PARTIAL' ? 'partial' : verification === 'VERIFIED' ? 'final' : 'preliminary';
  const code = dataSet.sequence(Tag.ConceptNameCodeSequence)[0];
  const codeValue = code?.string(Tag.CodeValue);
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    identifier: [uidIdentifier(meta.instance.sopInstanceUid)],
    status,
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD' }] }],
    code: codeValue
      ? codeableConcept({
          code: codeValue,
          system: code?.string(Tag.CodingSchemeDesignator),
          display: code?.string(Tag.CodeMeaning),
        })
      : { text: meta.instance.title ?? 'Imaging report' },
    subject: patientReference(meta, options),
    imagingStudy: [{ type: 'ImagingStudy', identifier: uidIdentifier(meta.study.studyInstanceUid) }],
    presentedForm: [
      {
        contentType: 'text/plain; charset=utf-8',
        data: Buffer.from(text, 'utf8').toString('base64'),
        ...(meta.instance.title ? { title: meta.instance.title } : {}),
      },
    ],
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><pre>${escapeXml(text)}</pre></div>` },
  };
  const accession = accessionIdentifier(meta, options);
  if (accession) report.basedOn = [{ type: 'ServiceRequest', identifier: accession }];
  const effective = fhirDateTime(
    meta.instance.contentDate,
    meta.instance.contentTime,
    meta.study.timezoneOffset,
    options.timeZone,
  );
  if (effective) report.effectiveDateTime = effective;
  const verifier = dataSet.sequence(Tag.VerifyingObserverSequence)[0];
  const verifierName = verifier
    ? personNameDisplay(parsePersonName(verifier.string(Tag.VerifyingObserverName) ?? ''))
    : undefined;
  if (verifierName) report.resultsInterpreter = [{ display: verifierName }];
  return report;
}
