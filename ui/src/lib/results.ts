// Laboratory results as clinicians read them: one row per analyte, one column per collection time, the value
// with its unit, the reference range and the abnormal flag; and the trend of one analyte over time.
import type { CodeableConcept, Coding, Observation, Quantity } from '@medplum/fhirtypes';

const LOINC = 'http://loinc.org';

export type ResultFlag = 'high' | 'critical-high' | 'low' | 'critical-low' | 'abnormal' | 'normal' | 'unknown';

export interface ResultValue {
  observationId: string;
  /** effective (collection) time, or issued. */
  date?: string;
  /** What to print: "4.8", "< 20", "Hémolysé", "Contrôle à prévoir". */
  text: string;
  /** The number, for trends (comparators dropped). */
  numeric?: number;
  comparator?: string;
  unit?: string;
  low?: number;
  high?: number;
  rangeText?: string;
  flag: ResultFlag;
  status?: Observation['status'];
  notes: string[];
}

export interface AnalyteRow {
  /** LOINC code when known, else system|code of the first coding. */
  key: string;
  label: string;
  loinc?: string;
  localCode?: string;
  unit?: string;
  rangeText?: string;
  /** Most recent first. */
  values: ResultValue[];
}

function codingLabel(concept: CodeableConcept | undefined): string {
  if (!concept) return '—';
  const local = concept.coding?.find((c) => c.system !== LOINC && c.display);
  return (
    concept.text ??
    local?.display ??
    concept.coding?.find((c) => c.display)?.display ??
    concept.coding?.[0]?.code ??
    '—'
  );
}

export function analyteKey(observation: Observation): string {
  const loinc = observation.code?.coding?.find((c) => c.system === LOINC && c.code);
  if (loinc) return `${LOINC}|${loinc.code}`;
  const first = observation.code?.coding?.find((c) => c.code);
  return first ? `${first.system ?? ''}|${first.code}` : `text|${observation.code?.text ?? ''}`;
}

function quantityUnit(q: Quantity | undefined): string | undefined {
  return q?.unit ?? q?.code;
}

function formatNumber(value: number, locale: string): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 6 }).format(value);
}

const INTERPRETATION_FLAGS: Record<string, ResultFlag> = {
  H: 'high',
  HU: 'high',
  '>': 'high',
  HH: 'critical-high',
  L: 'low',
  LU: 'low',
  '<': 'low',
  LL: 'critical-low',
  A: 'abnormal',
  AA: 'abnormal',
  POS: 'abnormal',
  DET: 'abnormal',
  R: 'abnormal',
  N: 'normal',
  NEG: 'normal',
  ND: 'normal',
  S: 'normal',
};

/** The flag: from the interpretation when given, else from the reference range. */
export function flagOf(observation: Observation, numeric?: number, low?: number, high?: number): ResultFlag {
  for (const coding of observation.interpretation?.flatMap((i) => i.coding ?? []) ?? []) {
    const flag = coding.code ? INTERPRETATION_FLAGS[coding.code] : undefined;
    if (flag) return flag;
  }
  if (numeric === undefined) return 'unknown';
  if (high !== undefined && numeric > high) return 'high';
  if (low !== undefined && numeric < low) return 'low';
  if (low !== undefined || high !== undefined) return 'normal';
  return 'unknown';
}

export function isAbnormal(flag: ResultFlag): boolean {
  return flag !== 'normal' && flag !== 'unknown';
}

function conceptText(concept: CodeableConcept | undefined): string | undefined {
  if (!concept) return undefined;
  return concept.text ?? concept.coding?.find((c: Coding) => c.display)?.display ?? concept.coding?.[0]?.code;
}

export function resultValue(observation: Observation, locale = 'fr-FR'): ResultValue {
  const range = observation.referenceRange?.[0];
  const low = range?.low?.value;
  const high = range?.high?.value;
  let text = '—';
  let numeric: number | undefined;
  let unit: string | undefined;
  let comparator: string | undefined;
  if (observation.valueQuantity?.value !== undefined) {
    numeric = observation.valueQuantity.value;
    comparator = observation.valueQuantity.comparator;
    unit = quantityUnit(observation.valueQuantity);
    text = `${comparator ? `${comparator} ` : ''}${formatNumber(numeric, locale)}`;
  } else if (observation.valueString !== undefined) text = observation.valueString;
  else if (observation.valueCodeableConcept) text = conceptText(observation.valueCodeableConcept) ?? '—';
  else if (observation.valueInteger !== undefined) {
    numeric = observation.valueInteger;
    text = formatNumber(numeric, locale);
  } else if (observation.valueBoolean !== undefined) text = observation.valueBoolean ? '✓' : '✗';
  else if (observation.valueRange) {
    const r = observation.valueRange;
    text = `${r.low?.value !== undefined ? formatNumber(r.low.value, locale) : ''}–${r.high?.value !== undefined ? formatNumber(r.high.value, locale) : ''}`;
    unit = quantityUnit(r.low ?? r.high);
  } else if (observation.valueRatio) {
    const r = observation.valueRatio;
    text = `${r.numerator?.value ?? ''}/${r.denominator?.value ?? ''}`;
  } else if (observation.valueDateTime) text = observation.valueDateTime;
  else if (observation.dataAbsentReason) text = conceptText(observation.dataAbsentReason) ?? '—';
  const rangeText =
    low !== undefined || high !== undefined
      ? `${low !== undefined ? formatNumber(low, locale) : ''}–${high !== undefined ? formatNumber(high, locale) : ''}`
      : range?.text;
  const date =
    observation.effectiveDateTime ??
    observation.effectivePeriod?.start ??
    observation.effectiveInstant ??
    observation.issued;
  return {
    observationId: observation.id ?? '',
    ...(date ? { date } : {}),
    text,
    ...(numeric !== undefined ? { numeric } : {}),
    ...(comparator ? { comparator } : {}),
    ...(unit ? { unit } : {}),
    ...(low !== undefined ? { low } : {}),
    ...(high !== undefined ? { high } : {}),
    ...(rangeText ? { rangeText } : {}),
    flag: flagOf(observation, numeric, low, high),
    ...(observation.status ? { status: observation.status } : {}),
    notes: (observation.note ?? []).map((n) => n.text).filter((t): t is string => Boolean(t)),
  };
}

function byDateDesc(a: { date?: string }, b: { date?: string }): number {
  return Date.parse(b.date ?? '') - Date.parse(a.date ?? '') || 0;
}

/** Results that are laboratory-like values (not panels with members only, not cancelled). */
function isResult(observation: Observation): boolean {
  if (observation.status === 'entered-in-error' || observation.status === 'cancelled') return false;
  const hasValue =
    Object.keys(observation).some((k) => k.startsWith('value')) || observation.dataAbsentReason !== undefined;
  return hasValue;
}

/** One row per analyte, values most recent first; rows sorted by label. */
export function analyteRows(observations: Observation[], locale = 'fr-FR'): AnalyteRow[] {
  const rows = new Map<string, AnalyteRow>();
  for (const observation of observations.filter(isResult)) {
    const key = analyteKey(observation);
    let row = rows.get(key);
    if (!row) {
      const loinc = observation.code?.coding?.find((c) => c.system === LOINC)?.code;
      const local = observation.code?.coding?.find((c) => c.system !== LOINC)?.code;
      row = {
        key,
        label: codingLabel(observation.code),
        ...(loinc ? { loinc } : {}),
        ...(local ? { localCode: local } : {}),
        values: [],
      };
      rows.set(key, row);
    }
    row.values.push(resultValue(observation, locale));
  }
  for (const row of rows.values()) {
    row.values.sort(byDateDesc);
    const latest = row.values[0];
    if (latest?.unit) row.unit = latest.unit;
    if (latest?.rangeText) row.rangeText = latest.rangeText;
  }
  return [...rows.values()].sort((a, b) => a.label.localeCompare(b.label, locale));
}

/** The collection times of all rows, most recent first (the columns of the cumulative table). */
export function resultDates(rows: AnalyteRow[]): string[] {
  const dates = new Set<string>();
  for (const row of rows) for (const value of row.values) if (value.date) dates.add(value.date);
  return [...dates].sort((a, b) => Date.parse(b) - Date.parse(a));
}

export interface TrendPoint {
  date: string;
  value: number;
  text: string;
  flag: ResultFlag;
  observationId: string;
}

/** The numeric values of one analyte, oldest first, for a chart. */
export function trendOf(row: AnalyteRow): { points: TrendPoint[]; low?: number; high?: number; unit?: string } {
  const points = row.values
    .filter(
      (v): v is ResultValue & { date: string; numeric: number } => v.date !== undefined && v.numeric !== undefined,
    )
    .map((v) => ({ date: v.date, value: v.numeric, text: v.text, flag: v.flag, observationId: v.observationId }))
    .sort((a, b) => Date.parse(a.date) - Date.parse(b.date));
  const latest = row.values[0];
  return {
    points,
    ...(latest?.low !== undefined ? { low: latest.low } : {}),
    ...(latest?.high !== undefined ? { high: latest.high } : {}),
    ...(row.unit ? { unit: row.unit } : {}),
  };
}

/** Direction of the last change: up, down or stable (within 2 %), for the arrow next to the latest value. */
export function trendDirection(points: TrendPoint[]): 'up' | 'down' | 'stable' | undefined {
  if (points.length < 2) return undefined;
  const last = points[points.length - 1]!.value;
  const previous = points[points.length - 2]!.value;
  if (previous === 0) return last === 0 ? 'stable' : last > 0 ? 'up' : 'down';
  const change = (last - previous) / Math.abs(previous);
  return Math.abs(change) < 0.02 ? 'stable' : change > 0 ? 'up' : 'down';
}
