// The Endpoint every ImagingStudy points to: our DICOMweb service (WADO-RS, QIDO-RS, STOW-RS). One resource
// with a fixed id, written when the DICOM module starts (a no-op when unchanged), so the studies reference it
// literally and a change of public URL updates one resource, not every study.
import type { Endpoint } from '@medplum/fhirtypes';

export const DICOMWEB_ENDPOINT_ID = 'keney-dicomweb';
export const DICOMWEB_ENDPOINT_REFERENCE = `Endpoint/${DICOMWEB_ENDPOINT_ID}`;

/**
 * The Endpoint of the DICOMweb service mounted at `path` (default /dicomweb) under `publicUrl`. Without a
 * public URL (KENEY_PUBLIC_URL) the address is the path alone, which a client on the hub's origin resolves.
 */
export function dicomWebEndpoint(
  publicUrl: string | undefined,
  path = '/dicomweb',
  name = 'Keney Hub DICOMweb',
): Endpoint {
  return {
    resourceType: 'Endpoint',
    id: DICOMWEB_ENDPOINT_ID,
    status: 'active',
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    name,
    payloadType: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type', code: 'any' }],
        text: 'DICOM',
      },
    ],
    payloadMimeType: ['application/dicom'],
    address: `${publicUrl?.replace(/\/$/, '') ?? ''}${path}`,
  };
}
