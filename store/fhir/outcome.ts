// Errors of the FHIR layer: an HTTP status and an OperationOutcome that names what went wrong and where.
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type IssueCode = OperationOutcomeIssue['code'];

export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome,
  ) {
    super(
      outcome.issue
        ?.map((i) => `${i.expression?.join(', ') ?? ''} ${i.diagnostics ?? i.details?.text ?? ''}`.trim())
        .join('; '),
    );
    this.name = 'FhirError';
  }
}

export function outcome(
  severity: OperationOutcomeIssue['severity'],
  code: IssueCode,
  text: string,
  expression?: string[],
): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity, code, details: { text }, ...(expression ? { expression } : {}) }],
  };
}

export const fhirErrors = {
  badRequest: (text: string, expression?: string[]) =>
    new FhirError(400, outcome('error', 'invalid', text, expression)),
  notSupported: (text: string) => new FhirError(400, outcome('error', 'not-supported', text)),
  notFound: (text: string) => new FhirError(404, outcome('error', 'not-found', text)),
  gone: (text: string) => new FhirError(410, outcome('error', 'deleted', text)),
  conflict: (text: string) => new FhirError(409, outcome('error', 'conflict', text)),
  preconditionFailed: (text: string) => new FhirError(412, outcome('error', 'conflict', text)),
  multipleMatches: (text: string) => new FhirError(412, outcome('error', 'multiple-matches', text)),
  unprocessable: (text: string, expression?: string[]) =>
    new FhirError(422, outcome('error', 'processing', text, expression)),
  unauthorized: (text: string) => new FhirError(401, outcome('error', 'login', text)),
  forbidden: (text: string) => new FhirError(403, outcome('error', 'forbidden', text)),
  tooCostly: (text: string) => new FhirError(413, outcome('error', 'too-costly', text)),
  timeout: (text: string) => new FhirError(503, outcome('error', 'timeout', text)),
  internal: (text: string) => new FhirError(500, outcome('error', 'exception', text)),
};

export function isFhirError(error: unknown): error is FhirError {
  return error instanceof FhirError;
}
