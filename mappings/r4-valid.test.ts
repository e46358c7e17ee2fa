// Acceptance 3: every resource the maps produce passes the store's R4 validation (store/fhir/validate.ts, the check
// every write goes through), on every shipped input: the mapping fixtures, the quality fixtures, the PAM-France
// stay, the bench messages and the 268 CDC ReportStream inputs (testing/output-digest.ts lists them). A failure
// names the input, the resource and the validator's message, so the template to fix is found from the report.
// A message the map refuses (an error issue: AE/AR, nothing appended) produces nothing and is not checked.
import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { validateForWrite } from '../store/fhir/validate.js';
import { mapAllInputs } from './testing/output-digest.js';

function invalidResources(bundle: Bundle | undefined): string[] {
  const out: string[] = [];
  for (const [index, entry] of (bundle?.entry ?? []).entries()) {
    // An operation entry (A40 → POST Patient/$merge with its Parameters) is a request, not a resource to store.
    if (entry.request?.url?.includes('$')) continue;
    try {
      validateForWrite(entry.resource);
    } catch (error) {
      const issues = (error as { outcome?: { issue?: { expression?: string[]; details?: { text?: string } }[] } })
        .outcome?.issue;
      const why = issues?.map((i) => `${i.expression?.join(',') ?? ''} ${i.details?.text ?? ''}`).join('; ');
      out.push(`entry ${index} ${entry.resource?.resourceType}: ${why ?? String(error)}`);
    }
  }
  return out;
}

/** Inputs known to give an invalid resource, with the reason; the test fails when one is fixed (remove it here). */
const KNOWN: Record<string, string> = {
  'cdc/mappinginventory/catchall/cwe/quantity/cwe-quantity.hl7':
    'an ORU without PID: ServiceRequest.subject is 1..1 and there is no patient to name (v2 allows the PATIENT group to be absent)',
};

describe('every produced resource passes the store R4 validation (acceptance 3)', () => {
  it('on every shipped input, failures listed by input name', () => {
    const mapped = mapAllInputs();
    expect(mapped.length).toBeGreaterThanOrEqual(290);
    const failures: Record<string, string[]> = {};
    for (const { name, output } of mapped) {
      const result = JSON.parse(output) as { bundle?: Bundle; issues: { severity: string }[] };
      // A message with an error issue is refused (AE/AR): none of its resources reaches the store.
      if (result.issues.some((i) => i.severity === 'error')) continue;
      const problems = invalidResources(result.bundle);
      if (problems.length > 0) failures[name] = problems;
    }
    expect(
      Object.keys(failures)
        .filter((name) => !(name in KNOWN))
        .map((name) => ({ [name]: failures[name] })),
    ).toEqual([]);
    expect(
      Object.keys(KNOWN).filter((name) => !(name in failures)),
      'fixed: remove from KNOWN',
    ).toEqual([]);
  });
});
