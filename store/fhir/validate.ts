// Structural validation of every write against the official R4 StructureDefinitions (datatypes,
// cardinalities, required elements, required value sets), via @medplum/core's validator.
import { validateResource } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadDefinitions } from './definitions.js';
import { FhirError, fhirErrors } from './outcome.js';

/** Resource types that are operation artifacts, never persisted. */
export const NOT_PERSISTED = new Set(['OperationOutcome', 'Parameters']);

// R4 base64Binary allows whitespace between quads (http://hl7.org/fhir/R4/datatypes.html#base64Binary);
// the validator we use is stricter, so its base64 issues are re-checked against the R4 pattern.
const R4_BASE64 = /^(\s*([0-9a-zA-Z+/=]){4}\s*)+$/;

export function isPersistableType(type: string): boolean {
  return !NOT_PERSISTED.has(type) && loadDefinitions().resourceTypes.includes(type);
}

/** Throws a 400 FhirError with an OperationOutcome naming each failing path, or returns the warnings. */
export function validateForWrite(resource: unknown, expectedType?: string): OperationOutcomeIssue[] {
  loadDefinitions();
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
    throw fhirErrors.badRequest('The body must be a FHIR resource: a JSON object with a resourceType.');
  }
  const type = (resource as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string' || !type) {
    throw fhirErrors.badRequest('The resource has no resourceType.', ['resourceType']);
  }
  if (expectedType && type !== expectedType) {
    throw fhirErrors.badRequest(`The body is a ${type}, but the URL is for ${expectedType}.`, ['resourceType']);
  }
  if (!isPersistableType(type)) {
    throw fhirErrors.notSupported(
      NOT_PERSISTED.has(type)
        ? `${type} is not stored: it is the result of an operation, not a record.`
        : `Unknown resource type "${type}": see /fhir/metadata for the supported types.`,
    );
  }
  let issues: OperationOutcomeIssue[] = [];
  try {
    issues = (validateResource(resource as Resource) ?? []) as OperationOutcomeIssue[];
  } catch (error) {
    const found = (error as { outcome?: OperationOutcome }).outcome;
    if (!found?.issue) throw error;
    issues = found.issue;
  }
  issues = issues
    .filter((issue) => !isAcceptableBase64(resource, issue))
    .map((issue) => withConcretePaths(resource, issue));
  issues.push(...skippedInvariants(resource as Record<string, unknown>));
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length > 0) {
    throw new FhirError(400, { resourceType: 'OperationOutcome', issue: errors });
  }
  return issues;
}

/** `Observation.value[x].value` → `Observation.valueQuantity.value`: the element the resource actually has. */
function withConcretePaths(resource: object, issue: OperationOutcomeIssue): OperationOutcomeIssue {
  if (!issue.expression?.some((e) => e.includes('[x]'))) return issue;
  return { ...issue, expression: issue.expression.map((path) => concretePath(resource, path)) };
}

function concretePath(resource: object, path: string): string {
  const parts = path.split('.');
  let current: unknown = resource;
  const out = [parts[0]!];
  for (const part of parts.slice(1)) {
    const match = /^([^[\]]+)(\[x\])?(?:\[(\d+)\])?$/.exec(part);
    if (!match || current === null || typeof current !== 'object') {
      out.push(part);
      current = undefined;
      continue;
    }
    let name = match[1]!;
    if (match[2]) {
      const prefix = name;
      name =
        Object.keys(current).find((k) => k.startsWith(prefix) && /^[A-Z]/.test(k.slice(prefix.length))) ??
        `${prefix}[x]`;
    }
    current = (current as Record<string, unknown>)[name];
    if (match[3] !== undefined) current = Array.isArray(current) ? current[Number(match[3])] : undefined;
    else if (Array.isArray(current) && current.length === 1) current = current[0];
    out.push(match[3] !== undefined ? `${name}[${match[3]}]` : name);
  }
  return out.join('.');
}

/**
 * R4 invariants of error severity that the validator we use does not evaluate (it skips org-1 on purpose):
 * checked here so that the store refuses what any R4 server would.
 */
function skippedInvariants(resource: Record<string, unknown>): OperationOutcomeIssue[] {
  const present = (v: unknown) => (Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null && v !== '');
  if (resource.resourceType === 'Organization' && !present(resource.name) && !present(resource.identifier)) {
    return [
      {
        severity: 'error',
        code: 'invariant',
        details: {
          text: 'Constraint org-1 not met: The organization SHALL at least have an identifier or a name element',
        },
        expression: ['Organization'],
      },
    ];
  }
  return [];
}

function isAcceptableBase64(resource: object, issue: OperationOutcomeIssue): boolean {
  const text = issue.details?.text ?? '';
  const path = issue.expression?.[0];
  if (!text.includes('base64Binary') || !path) return false;
  const value = valueAtPath(resource, path);
  return typeof value === 'string' && R4_BASE64.test(value);
}

/** Reads `Type.a[0].b` from plain JSON. */
function valueAtPath(resource: object, path: string): unknown {
  let current: unknown = resource;
  for (const part of path.split('.').slice(1)) {
    const match = /^([^[\]]+)(?:\[(\d+)\])?$/.exec(part);
    if (!match || current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[match[1]!];
    if (match[2] !== undefined) current = Array.isArray(current) ? current[Number(match[2])] : undefined;
    else if (Array.isArray(current) && current.length === 1) current = current[0];
  }
  return current;
}
