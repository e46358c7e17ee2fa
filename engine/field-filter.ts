// Channel filters (channel-config.ts FilterConfig: equals, in, matches, exists, not, anyOf) evaluated over any
// message, given a function that reads a field by name. HL7 v2 channels read `MSH-9.1`-style paths
// (hl7v2-format.ts), DICOM channels read keywords, tags and how the instance came (connectors/dicom/channels).
import { isFieldFilter, type FilterConfig } from './channel-config.js';

export interface FilterVerdict {
  pass: boolean;
  /** The first filter that did not pass, described for the message store. */
  reason?: string;
}

/**
 * Reads one field's value; undefined when absent. A reader that throws (a path that does not resolve, an attribute
 * that does not decode) counts as absent.
 */
export type FieldReader = (field: string) => string | undefined;

/** Every filter must pass (AND); `anyOf` is an OR; `not` negates. The first failure says why. */
export function applyFieldFilters(read: FieldReader, filters: readonly FilterConfig[]): FilterVerdict {
  for (const filter of filters) {
    const verdict = test(read, filter);
    if (!verdict.pass) return verdict;
  }
  return { pass: true };
}

function test(read: FieldReader, filter: FilterConfig): FilterVerdict {
  if (!isFieldFilter(filter)) {
    const pass = filter.anyOf.some((f) => test(read, f).pass) !== (filter.not ?? false);
    return pass ? { pass } : { pass, reason: `none of the anyOf filters passed${filter.not ? ' (negated)' : ''}` };
  }
  let value: string | undefined;
  try {
    value = read(filter.field);
  } catch {
    value = undefined;
  }
  let pass: boolean;
  let expected: string;
  if (filter.equals !== undefined) {
    pass = value === filter.equals;
    expected = `equal "${filter.equals}"`;
  } else if (filter.in !== undefined) {
    pass = value !== undefined && filter.in.includes(value);
    expected = `be one of ${filter.in.join(', ')}`;
  } else if (filter.matches !== undefined) {
    pass = value !== undefined && new RegExp(filter.matches, 'u').test(value);
    expected = `match /${filter.matches}/`;
  } else {
    const wanted = filter.exists ?? true;
    pass = (value !== undefined && value !== '') === wanted;
    expected = wanted ? 'be present' : 'be absent';
  }
  if (filter.not) {
    pass = !pass;
    expected = `not ${expected}`;
  }
  return pass
    ? { pass }
    : {
        pass,
        reason: `${filter.field} is ${value === undefined ? 'absent' : `"${value.slice(0, 60)}"`}; it must ${expected}`,
      };
}
