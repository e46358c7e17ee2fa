// Encapsulated PDF (and CDA) instances → FHIR R4 DocumentReference + Binary. The Binary's id is the
// sha256 of the document, so the same document always maps to the same Binary.
import { createHash } from 'node:crypto';
import type { Binary, DocumentReference } from '@medplum/fhirtypes';
import type { DataSet } from '../dataset.js';
import { DicomError, DicomErrorCode } from '../errors.js';
import type { InstanceMetadata } from '../metadata.js';
import { Tag } from '../tags.js';
import { SopClass } from '../uids.js';
import { codeableConcept, fhirDateTime, patientReference, uidIdentifier, type MappingOptions } from './common.js';

export interface EncapsulatedDocumentResources {
  documentReference: DocumentReference;
  binary: Binary;
}

/** The document bytes, without the pad byte an odd-length document gets (PS3.3 C.24.2.1). */
export function encapsulatedDocumentBytes(dataSet: DataSet): Buffer {
  const bytes = dataSet.valueBytes(Tag.EncapsulatedDocument);
  if (!bytes)
    throw new DicomError(DicomErrorCode.MissingAttribute, 'Encapsulated Document (0042,0011) is missing or empty');
  const declared = dataSet.number(Tag.EncapsulatedDocumentLength);
  if (declared !== undefined && declared <= bytes.length) return bytes.subarray(0, declared);
  // PDF ends with %%EOF plus optional EOL; a trailing NUL is padding.
  return bytes.length && bytes[bytes.length - 1] === 0 ? bytes.subarray(0, bytes.length - 1) : bytes;
}

export function toDocumentReference(
  dataSet: DataSet,
  meta: InstanceMetadata,
  options: MappingOptions = {},
): EncapsulatedDocumentResources {
  if (
    meta.instance.sopClassUid !== SopClass.EncapsulatedPDF &&
    meta.instance.sopClassUid !== SopClass.EncapsulatedCDA
  ) {
    throw new DicomError(
      DicomErrorCode.WrongKind,
      `SOP class ${meta.instance.sopClassUid} is not an encapsulated document`,
    );
  }
  const bytes = encapsulatedDocumentBytes(dataSet);
  const contentType =
    meta.instance.mimeType ?? (meta.instance.sopClassUid === SopClass.EncapsulatedPDF ? 'application/pdf' : 'text/xml');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const binary: Binary = { resourceType: 'Binary', id: sha256, contentType, data: bytes.toString('base64') };
  const code = dataSet.sequence(Tag.ConceptNameCodeSequence)[0];
  const codeValue = code?.string(Tag.CodeValue);
  const created = fhirDateTime(
    meta.instance.contentDate,
    meta.instance.contentTime,
    meta.study.timezoneOffset,
    options.timeZone,
  );
  const documentReference: DocumentReference = {
    resourceType: 'DocumentReference',
    masterIdentifier: uidIdentifier(meta.instance.sopInstanceUid),
    status: 'current',
    subject: patientReference(meta, options),
    content: [
      {
        attachment: {
          contentType,
          url: `Binary/${sha256}`,
          size: bytes.length,
          hash: createHash('sha1').update(bytes).digest('base64'),
          ...(meta.instance.title ? { title: meta.instance.title } : {}),
          ...(created && created.length > 10 ? { creation: created } : {}),
        },
      },
    ],
    context: { related: [{ type: 'ImagingStudy', identifier: uidIdentifier(meta.study.studyInstanceUid) }] },
  };
  if (codeValue) {
    documentReference.type = codeableConcept({
      code: codeValue,
      system: code?.string(Tag.CodingSchemeDesignator),
      display: code?.string(Tag.CodeMeaning),
    });
  }
  if (meta.instance.title) documentReference.description = meta.instance.title;
  if (created && created.length > 10) documentReference.date = created;
  return { documentReference, binary };
}
