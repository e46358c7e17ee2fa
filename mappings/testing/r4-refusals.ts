// What a reference Bundle holds that FHIR R4 refuses, taken out before a semantic comparison.
//
// The CDC ReportStream Bundles (acceptance 1) contain elements that R4 does not allow; our maps never write them
// (acceptance 3: every resource we produce passes the store's R4 validation), so a pair that expects them can only
// fail. Each rule below names the R4 rule it applies, checks it on the reference resource itself, and is counted, so
// the comparison prints both the plain rate and the rate against the R4-valid part of the reference. Only refusals
// are removed here: where the reference differs from the IG by a choice (a code map, a condition), it still counts
// as a failure.
import type { Bundle } from '@medplum/fhirtypes';

type Json = Record<string, unknown>;

export interface RefusalRule {
  id: string;
  /** The R4 rule, as its specification names it. */
  reason: string;
}

export const R4_REFUSALS: readonly RefusalRule[] = [
  { id: 'org-1', reason: 'Organization: "SHALL at least have an identifier or a name element" (org-1)' },
  { id: 'org-2/org-3', reason: "Organization: an address or telecom never of use 'home' (org-2, org-3)" },
  {
    id: 'pat-1',
    reason: 'Patient.contact: "SHALL at least contain a contact\'s details or a reference to an organization" (pat-1)',
  },
  { id: 'instant', reason: 'instant (DiagnosticReport.issued…): a time to the second with its zone is required' },
  {
    id: 'EpisodeOfCare-1..1',
    reason: 'EpisodeOfCare.status and .patient are 1..1: an EpisodeOfCare with neither (and nothing else)',
  },
  {
    id: 'Coverage.payor',
    reason: 'Coverage.payor is 1..*: a Coverage whose IN1 names no insurance company (IN1-3, IN1-4)',
  },
];

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const INSTANT_ELEMENTS: Record<string, string[]> = {
  DiagnosticReport: ['issued'],
  Observation: ['issued'],
  DocumentReference: ['date'],
};

function hasContent(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasContent);
  if (value && typeof value === 'object') return Object.values(value).some(hasContent);
  return value !== undefined && value !== null && value !== '';
}

/**
 * A copy of `bundle` without what R4 refuses (see R4_REFUSALS), and how many times each rule removed something.
 * A removed resource takes its facts with it; references to it are left (references are not compared).
 */
export function withoutR4Refusals(bundle: Bundle): { bundle: Bundle; removed: Map<string, number> } {
  const removed = new Map<string, number>();
  const count = (id: string) => removed.set(id, (removed.get(id) ?? 0) + 1);
  const entries = [];
  for (const entry of bundle.entry ?? []) {
    const resource = entry.resource ? (structuredClone(entry.resource) as unknown as Json) : undefined;
    if (!resource) {
      entries.push(entry);
      continue;
    }
    const type = resource.resourceType as string;
    if (type === 'Organization' && !hasContent(resource.name) && !hasContent(resource.identifier)) {
      count('org-1');
      continue;
    }
    if (type === 'EpisodeOfCare' && !resource.status && !resource.patient && !hasContent(resource.identifier)) {
      count('EpisodeOfCare-1..1');
      continue;
    }
    if (type === 'Coverage' && !hasContent(resource.payor)) {
      count('Coverage.payor');
      continue;
    }
    if (type === 'Organization') {
      for (const key of ['address', 'telecom']) {
        for (const item of (resource[key] as Json[] | undefined) ?? []) {
          if (item.use === 'home') {
            delete item.use;
            count('org-2/org-3');
          }
        }
      }
    }
    if (type === 'Patient' && Array.isArray(resource.contact)) {
      const kept = (resource.contact as Json[]).filter(
        (c) => hasContent(c.name) || hasContent(c.telecom) || hasContent(c.address) || hasContent(c.organization),
      );
      for (let i = kept.length; i < (resource.contact as Json[]).length; i++) count('pat-1');
      resource.contact = kept;
    }
    for (const key of INSTANT_ELEMENTS[type] ?? []) {
      if (typeof resource[key] === 'string' && !INSTANT.test(resource[key] as string)) {
        delete resource[key];
        delete resource[`_${key}`];
        count('instant');
      }
    }
    entries.push({ ...entry, resource: resource as never });
  }
  return { bundle: { ...bundle, entry: entries }, removed };
}
