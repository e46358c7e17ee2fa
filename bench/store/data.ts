// Deterministic benchmark data: one Patient and nine lab Observations per transaction Bundle.
import type { Bundle } from '@medplum/fhirtypes';

export const IPP = 'urn:oid:1.2.250.1.999.1.1';
export const LOINC = ['2823-3', '2951-2', '2160-0', '718-7', '6690-2', '777-3', '1742-6', '1920-8', '2345-7'];
export const SURNAMES = [
  'Martin',
  'Bernard',
  'Dubois',
  'Thomas',
  'Robert',
  'Richard',
  'Petit',
  'Durand',
  'Leroy',
  'Moreau',
  'Simon',
  'Laurent',
  'Lefebvre',
  'Michel',
  'Garcia',
  'David',
  'Bertrand',
  'Roux',
  'Vincent',
  'Fournier',
];

// Deterministic data: the same seed gives the same patients on both sides.
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

export function bundleFor(n: number): Bundle {
  const random = rng(n + 1);
  const family = `${SURNAMES[n % SURNAMES.length]}${n}`;
  const patientUrl = `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: patientUrl,
        request: { method: 'PUT', url: `Patient?identifier=${IPP}|IPP-${n}` },
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: IPP, value: `IPP-${n}` }],
          name: [{ family, given: [['Hélène', 'Zoé', 'Jean', 'Anaïs', 'Noël'][n % 5]!] }],
          gender: n % 2 ? 'female' : 'male',
          birthDate: `19${String(30 + (n % 70)).padStart(2, '0')}-0${(n % 9) + 1}-1${n % 9}`,
          address: [{ city: ['Paris', 'Lyon', 'Saint-Étienne', 'Lille'][n % 4], postalCode: '75001' }],
        },
      },
      ...LOINC.map((code, i) => ({
        request: { method: 'POST' as const, url: 'Observation' },
        resource: {
          resourceType: 'Observation' as const,
          status: 'final' as const,
          code: { coding: [{ system: 'http://loinc.org', code }] },
          subject: { reference: patientUrl },
          effectiveDateTime: `2026-0${(i % 9) + 1}-1${n % 9}T08:00:00Z`,
          valueQuantity: {
            value: Math.round(random() * 1000) / 100,
            unit: 'mmol/L',
            system: 'http://unitsofmeasure.org',
            code: 'mmol/L',
          },
        },
      })),
    ],
  };
}
export const RESOURCES_PER_BUNDLE = 1 + LOINC.length;
