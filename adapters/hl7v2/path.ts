// Paths indexed like the standard: `PID-3`, `PID-3[2].1`, `PID-5.1.1`, `OBX[2]-5`, or relative to a segment: `3[2].1`.
import { Hl7Error, Hl7ErrorCode } from './errors.js';

/** A parsed path. Every index counts from 1; an omitted one is undefined. */
export interface Hl7Path {
  readonly segment: string | undefined;
  /** Occurrence of the segment (`OBX[2]`); undefined = the first (or all, for `getAll`). */
  readonly segmentSequence: number | undefined;
  readonly field: number;
  /** `PID-3[2]`; undefined = the first (or all, for `getAll`). */
  readonly repetition: number | undefined;
  readonly component: number | undefined;
  readonly subcomponent: number | undefined;
}

const pathPattern =
  /^(?:([A-Z][A-Z0-9]{2})(?:\[(\d{1,6})\])?-)?(\d{1,4})(?:\[(\d{1,6})\])?(?:\.(\d{1,4})(?:\.(\d{1,4}))?)?$/;
const cache = new Map<string, Hl7Path>();

/** Parses a path; throws `HL7_BAD_PATH` with the accepted forms when it is not one. */
export function parsePath(path: string): Hl7Path {
  const hit = cache.get(path);
  if (hit) return hit;
  const m = pathPattern.exec(path);
  const bad = (why: string) =>
    new Hl7Error(
      Hl7ErrorCode.BadPath,
      `"${path}" is not an HL7 path: ${why}; write SEG-field[repetition].component.subcomponent with indices from 1, e.g. PID-3, PID-3[2].1, OBX[2]-5, PID-5.1.1`,
    );
  if (!m) throw bad('it does not match the form');
  const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  const parsed: Hl7Path = {
    segment: m[1],
    segmentSequence: num(m[2]),
    field: Number(m[3]),
    repetition: num(m[4]),
    component: num(m[5]),
    subcomponent: num(m[6]),
  };
  for (const [name, v] of [
    ['segment occurrence', parsed.segmentSequence],
    ['field', parsed.field],
    ['repetition', parsed.repetition],
    ['component', parsed.component],
    ['subcomponent', parsed.subcomponent],
  ] as const) {
    if (v === 0) throw bad(`the ${name} index is 0 (HL7 counts from 1)`);
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(path, parsed);
  return parsed;
}
