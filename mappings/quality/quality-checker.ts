// Quality rules as data (mappings/quality/rules.yaml): FHIRPath + severity + message, checked on every change set.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalFhirPathTyped, parseFhirPath, type FhirPathAtom } from '@medplum/core';
import type { Bundle } from '@medplum/fhirtypes';
import { Ajv } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { lineOf, TemplateError, TemplateErrorCode } from '../engine/load.js';
import { MAPPINGS_DIR } from '../engine/registry.js';
import type { MappingIssue, MappingSeverity, QualityChecker } from '../mapper.js';

export interface QualityRule {
  name: string;
  code: string;
  resource: string;
  severity: MappingSeverity;
  expression: string;
  message: string;
}

interface RuleFile {
  rules: (Omit<QualityRule, 'expression'> & { expression?: string; ranges?: { loinc: string; unit: string; low: number; high: number; display?: string }[] })[];
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: {
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'code', 'resource', 'severity', 'message'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9-]{1,60}$' },
          code: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{2,60}$' },
          resource: { type: 'string', pattern: '^[A-Z][A-Za-z]+$' },
          severity: { enum: ['error', 'warning', 'information'] },
          expression: { type: 'string', minLength: 1 },
          message: { type: 'string', minLength: 1 },
          ranges: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['loinc', 'unit', 'low', 'high'],
              properties: { loinc: { type: 'string', pattern: '^[0-9]{1,7}-[0-9]$' }, unit: { type: 'string' }, low: { type: 'number' }, high: { type: 'number' }, display: { type: 'string' } },
            },
          },
        },
        oneOf: [{ required: ['expression'] }, { required: ['ranges'] }],
      },
    },
  },
};
const validate = new Ajv({ strict: false }).compile(schema);

function fhirString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Reads and checks a rules file; a `ranges` table becomes one FHIRPath rule per row. */
export function loadQualityRules(file = join(MAPPINGS_DIR, 'quality', 'rules.yaml')): QualityRule[] {
  const text = readFileSync(file, 'utf8');
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true });
  if (doc.errors.length > 0) throw new TemplateError(TemplateErrorCode.Syntax, `YAML syntax: ${doc.errors[0]!.message.split('\n')[0]}`, file, doc.errors[0]!.linePos?.[0]?.line);
  const content = doc.toJS() as RuleFile;
  if (!validate(content)) {
    const e = validate.errors!.reduce((a, b) => (b.instancePath.length > a.instancePath.length ? b : a));
    throw new TemplateError(TemplateErrorCode.Schema, `${e.instancePath || '(top)'}: ${e.message ?? 'invalid'} (a rule has name, code, resource, severity, message and an expression or a ranges table)`, file, lineOf(doc, counter, e.instancePath));
  }
  const rules: QualityRule[] = [];
  for (const rule of content.rules) {
    if (rule.expression) {
      rules.push({ ...rule, expression: rule.expression } as QualityRule);
      continue;
    }
    for (const row of rule.ranges ?? []) {
      const q = 'value.ofType(Quantity)';
      rules.push({
        name: `${rule.name}-${row.loinc}-${row.unit.replace(/[^A-Za-z0-9]/g, '')}`,
        code: rule.code,
        resource: rule.resource,
        severity: rule.severity,
        message: `${rule.message} (${row.display ?? row.loinc}: plausible ${row.low}–${row.high} ${row.unit})`,
        expression:
          `code.coding.where(system = 'http://loinc.org' and code = ${fhirString(row.loinc)}).empty() or ${q}.value.empty() or ${q}.code != ${fhirString(row.unit)} ` +
          `or (${q}.value >= ${row.low} and ${q}.value <= ${row.high})`,
      });
    }
  }
  const names = new Set<string>();
  for (const r of rules) {
    if (names.has(r.name)) throw new TemplateError(TemplateErrorCode.Duplicate, `two quality rules are named "${r.name}"`, file);
    names.add(r.name);
  }
  return rules;
}

export class FhirPathQualityChecker implements QualityChecker {
  private readonly compiled: (QualityRule & { atom: FhirPathAtom })[];

  constructor(readonly rules: QualityRule[] = loadQualityRules()) {
    this.compiled = rules.map((r) => {
      try {
        return { ...r, atom: parseFhirPath(r.expression) };
      } catch (error) {
        throw new TemplateError(TemplateErrorCode.FhirPath, `quality rule ${r.name}: the expression does not parse: ${(error as Error).message}`);
      }
    });
  }

  check(bundle: Bundle): MappingIssue[] {
    const issues: MappingIssue[] = [];
    for (const [index, entry] of (bundle.entry ?? []).entries()) {
      const resource = entry.resource;
      if (!resource) continue;
      for (const rule of this.compiled) {
        if (rule.resource !== resource.resourceType) continue;
        let ok: boolean;
        try {
          const result = evalFhirPathTyped(rule.atom, [{ type: resource.resourceType, value: resource }]);
          ok = result.length === 0 ? true : result.every((r) => r.value === true);
        } catch (error) {
          issues.push({
            severity: 'error',
            code: 'QUALITY_RULE_FAILED',
            message: `The quality rule ${rule.name} could not be evaluated on ${resource.resourceType} (Bundle.entry[${index}]): ${(error as Error).message}. Fix the rule in mappings/quality/rules.yaml.`,
            rule: rule.name,
          });
          continue;
        }
        if (!ok) {
          issues.push({
            severity: rule.severity,
            code: rule.code,
            message: rule.message,
            rule: rule.name,
            expression: `Bundle.entry[${index}].resource.ofType(${resource.resourceType})`,
          });
        }
      }
    }
    return issues;
  }
}
