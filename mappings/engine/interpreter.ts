// The interpreter: runs a message map over a decoded HL7 v2 message and returns one FHIR transaction Bundle whose
// entries are conditional on business identifiers (so a replay converges), plus the issues met on the way.
// Pure: no I/O, no clock (context.receivedAt is the only "now"), ids derived from the message id and the content.
//
// Speed (bench/mapping): templates are compiled once, when the registry is created — each rule knows its kind, its
// source path, how many values it writes, its condition as a closure and its FHIRPath as closures (fast-fhirpath.ts);
// v2 nodes are split once per message and cache their values (source.ts); ConceptMap, UCUM and date conversions are
// cached; resources are copied only when they hold something to prune. The output is byte for byte what the
// straightforward reading of the templates gives (mappings/output-digest.test.ts).
import { parseFhirPath, type FhirPathAtom, type TypedValue } from '@medplum/core';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Hl7Message } from '../../adapters/hl7v2/index.js';
import type { TerminologyService } from '../../terminology-maps/terminology.js';
import type { MappingContext, MappingIssue, MappingResult } from '../mapper.js';
import { compileFhirPath, type CompiledFhirPath } from './fast-fhirpath.js';
import { compilePath, isObject, prune, writePrimitiveExtension, writeValue, type CompiledPath } from './fhir-target.js';
import { nameUuid } from './ids.js';
import { TemplateError, TemplateErrorCode, type LoadedTemplates } from './load.js';
import { ConversionProblem, PRIMITIVE_TYPES, toPrimitiveCached } from './primitives.js';
import {
  compileStructure,
  fieldRepetitions,
  groupMessage,
  segmentLabel,
  SourceGroup as SourceGroupClass,
  textNode,
  type SourceGroup,
  type SourceSegment,
  type StructureItem,
  type V2Node,
} from './source.js';
import {
  WriteMode,
  type Condition,
  type DatatypeMap,
  type InstanceDef,
  type MessageMap,
  type Rule,
  type SegmentMap,
  type SourcePath,
} from './template.js';

type Json = Record<string, unknown>;

export const EXTENSION_BASE = 'https://keney.health/fhir/StructureDefinition/';
/** Extension holding a v2 code that no ConceptMap could translate (kept, never dropped). */
export const ORIGINAL_CODE_EXTENSION = `${EXTENSION_BASE}v2-original-code`;

export interface InterpreterOptions {
  terminology: TerminologyService;
  /** IANA zone for v2 times sent without an offset (default Europe/Paris). */
  timeZone?: string;
  /** System given to identifiers whose assigning authority has only a namespace id (HD-1). */
  namespaceSystem?: (namespace: string) => string;
}

// ---- compilation ---------------------------------------------------------------------------------------------

const RuleKind = { Value: 'value', Context: 'context', Expression: 'expression', From: 'from' } as const;
type RuleKind = (typeof RuleKind)[keyof typeof RuleKind];

interface CompiledRule extends Omit<Rule, 'with' | 'from' | 'when'> {
  kind: RuleKind;
  from?: ParsedSource;
  when?: CompiledCondition;
  path?: CompiledPath;
  datatype?: DatatypeMap & { compiled: CompiledRule[] };
  with?: CompiledRule[];
  expression?: FhirPathAtom;
  fast?: CompiledFhirPath;
  /** An empty source skips the rule (and its condition). */
  skipWhenEmpty: boolean;
  /** Writes every repetition (a repeating target without an index, and not `repeat: first`). */
  many: boolean;
  /** The constant of a `value:` rule, copied when it is an object. */
  constant: () => unknown;
  /** FHIR type of the element the rule writes (or the current element when `to` is absent). */
  targetType: string;
  where: string;
}

interface ParsedSource {
  segment?: string;
  parts: number[];
  /** The parts after the first (components, subcomponents). */
  rest: number[];
  text: string;
}

/** A compiled condition: decides from the source (scope) and the element being built. */
type CompiledCondition = (run: MappingRun, scope: Scope, target: Json | undefined) => boolean;

interface CompiledInstance extends Omit<InstanceDef, 'when' | 'also'> {
  segmentMap: SegmentMap & { compiled: CompiledRule[] };
  also: { segment: string; scope: 'siblings' | 'within'; map: SegmentMap & { compiled: CompiledRule[] } }[];
  when?: CompiledCondition;
  referencePaths: { path: CompiledPath; instance: string; scope: 'nearest' | 'within' }[];
  keyValues: ParsedSource[];
  identifiersFrom?: { path: ParsedSource; map: DatatypeMap & { compiled: CompiledRule[] } };
}

export interface CompiledMessageMap {
  map: MessageMap;
  structure: StructureItem[];
  instances: CompiledInstance[];
}

function parseSource(path: SourcePath): ParsedSource {
  const text = String(path);
  const m = /^(?:([A-Z][A-Z0-9]{2})-)?(.*)$/.exec(text)!;
  const parts = m[2]!.split('.').map(Number);
  return { ...(m[1] ? { segment: m[1] } : {}), parts, rest: parts.slice(1), text };
}

const atoms = new Map<string, { atom: FhirPathAtom; fast: CompiledFhirPath }>();
function fhirPathAtom(expression: string, where: string, file: string): { atom: FhirPathAtom; fast: CompiledFhirPath } {
  let entry = atoms.get(expression);
  if (!entry) {
    let atom: FhirPathAtom;
    try {
      atom = parseFhirPath(expression);
    } catch (error) {
      throw new TemplateError(
        TemplateErrorCode.FhirPath,
        `${where}: the FHIRPath expression "${expression}" does not parse: ${(error as Error).message}`,
        file,
      );
    }
    entry = { atom, fast: compileFhirPath(atom) };
    atoms.set(expression, entry);
  }
  return entry;
}

/** JSON constants of templates (YAML scalars, objects, arrays) copied for each write. */
function copyJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyJson);
  if (value !== null && typeof value === 'object') {
    const out: Json = {};
    for (const key of Object.keys(value)) out[key] = copyJson((value as Json)[key]);
    return out;
  }
  return value;
}

function constantOf(value: unknown): () => unknown {
  if (value !== null && typeof value === 'object') return () => copyJson(value);
  return () => value;
}

export class TemplateCompiler {
  private readonly datatypeCache = new Map<string, DatatypeMap & { compiled: CompiledRule[] }>();
  private readonly segmentCache = new Map<string, SegmentMap & { compiled: CompiledRule[] }>();

  constructor(
    private readonly templates: LoadedTemplates,
    private readonly terminology: TerminologyService,
  ) {}

  private condition(c: Condition, where: string, file: string): CompiledCondition {
    if ('valued' in c) {
      const path = parseSource(c.valued);
      return (_run, scope) => anyValued(path, scope);
    }
    if ('equals' in c || 'in' in c) {
      const path = parseSource('equals' in c ? c.equals.path : c.in.path);
      const values = 'equals' in c ? [c.equals.value] : c.in.values;
      if (values.length === 1) {
        const only = values[0];
        return (_run, scope) => firstNode(path, scope)?.value() === only;
      }
      const set = new Set(values);
      return (_run, scope) => {
        const v = firstNode(path, scope)?.value();
        return v !== undefined && set.has(v);
      };
    }
    if ('event' in c) {
      const events = new Set(c.event);
      return (run) => {
        const trigger = run.trigger();
        return trigger !== undefined && trigger !== null && events.has(trigger);
      };
    }
    if ('longer' in c) {
      const path = parseSource(c.longer.path);
      const than = c.longer.than;
      return (_run, scope) => (firstNode(path, scope)?.text()?.trim().length ?? 0) > than;
    }
    if ('fhirpath' in c) {
      const { fast } = fhirPathAtom(c.fhirpath, where, file);
      return (_run, scope, target) => {
        const type = String(scope.resource.resourceType ?? 'Element');
        const result = fast([{ type, value: target ?? scope.resource }], {
          '%resource': { type: String(scope.resource.resourceType ?? 'Resource'), value: scope.resource },
        });
        if (result.length === 0) return false;
        for (const r of result) if (r.value === false) return false;
        return true;
      };
    }
    if ('not' in c) {
      const inner = this.condition(c.not, where, file);
      return (run, scope, target) => !inner(run, scope, target);
    }
    if ('all' in c) {
      const inner = c.all.map((x) => this.condition(x, where, file));
      return (run, scope, target) => {
        for (const x of inner) if (!x(run, scope, target)) return false;
        return true;
      };
    }
    const inner = c.any.map((x) => this.condition(x, where, file));
    return (run, scope, target) => {
      for (const x of inner) if (x(run, scope, target)) return true;
      return false;
    };
  }

  datatype(name: string, where: string, file: string): DatatypeMap & { compiled: CompiledRule[] } {
    const hit = this.datatypeCache.get(name);
    if (hit) return hit;
    const def = this.templates.datatypes.get(name);
    if (!def)
      throw new TemplateError(
        TemplateErrorCode.Reference,
        `${where}: there is no datatype map "${name}"; define it under datatypes: in mappings/hl7v2/datatypes/`,
        file,
      );
    const entry = { ...def, compiled: [] as CompiledRule[] };
    this.datatypeCache.set(name, entry);
    entry.compiled = def.rules.map((r, i) => this.rule(r, def.fhirType, `${name} rule ${i + 1}`, def.file));
    return entry;
  }

  segment(name: string, where: string, file: string): SegmentMap & { compiled: CompiledRule[] } {
    const hit = this.segmentCache.get(name);
    if (hit) return hit;
    const def = this.templates.segments.get(name);
    if (!def)
      throw new TemplateError(
        TemplateErrorCode.Reference,
        `${where}: there is no segment map "${name}"; define it under segments: in mappings/hl7v2/segments/`,
        file,
      );
    const entry = {
      ...def,
      compiled: def.rules.map((r, i) =>
        this.rule(
          r,
          def.resource,
          `${name} rule ${i + 1} (${r.from ?? r.value ?? r.context ?? r.fhirpath} → ${r.to ?? '.'})`,
          def.file,
        ),
      ),
    };
    this.segmentCache.set(name, entry);
    return entry;
  }

  rule(rule: Rule, ownerType: string, where: string, file: string): CompiledRule {
    let path: CompiledPath | undefined;
    let targetType = ownerType;
    if (rule.to) {
      const p = compilePath(ownerType, rule.to);
      if (typeof p === 'string')
        throw new TemplateError(
          TemplateErrorCode.FhirPath,
          `${where}: "${rule.to}" is not an R4 path of ${ownerType}: ${p}`,
          file,
        );
      path = p;
      targetType = p.type;
    }
    let datatype: CompiledRule['datatype'];
    if (rule.type && rule.type !== 'text') {
      datatype = this.datatype(rule.type, where, file);
      const expected = datatype.resource ? 'Reference' : datatype.fhirType;
      if (expected !== targetType && !(rule.to === undefined && datatype.fhirType === ownerType)) {
        throw new TemplateError(
          TemplateErrorCode.Reference,
          `${where}: ${rule.type} produces ${datatype.resource ? `a ${datatype.fhirType} resource (written as a Reference)` : datatype.fhirType} but ${rule.to ?? ownerType} is ${targetType}`,
          file,
        );
      }
    } else if (
      rule.from !== undefined &&
      !PRIMITIVE_TYPES.has(targetType) &&
      rule.fhirpath === undefined &&
      rule.value === undefined
    ) {
      throw new TemplateError(
        TemplateErrorCode.Reference,
        `${where}: ${rule.to ?? ownerType} is a ${targetType}: give a datatype map with type: (e.g. CWE[CodeableConcept])`,
        file,
      );
    }
    if (rule.vocabulary && !this.terminology.hasConceptMap(rule.vocabulary)) {
      throw new TemplateError(
        TemplateErrorCode.Reference,
        `${where}: there is no ConceptMap "${rule.vocabulary}" in terminology-maps/`,
        file,
      );
    }
    const withType = datatype?.resource ? datatype.fhirType : targetType;
    const expression = rule.fhirpath ? fhirPathAtom(rule.fhirpath, where, file) : undefined;
    const kind: RuleKind =
      rule.value !== undefined
        ? RuleKind.Value
        : rule.context !== undefined
          ? RuleKind.Context
          : rule.from === undefined
            ? RuleKind.Expression
            : RuleKind.From;
    const lastStep = path?.steps[path.steps.length - 1];
    const compiled: CompiledRule = {
      ...rule,
      kind,
      ...(rule.from !== undefined ? { from: parseSource(rule.from) } : {}),
      ...(rule.when ? { when: this.condition(rule.when, where, file) } : {}),
      ...(path ? { path } : {}),
      ...(datatype ? { datatype } : {}),
      ...(expression ? { expression: expression.atom, fast: expression.fast } : {}),
      ...(rule.with ? { with: rule.with.map((r, i) => this.rule(r, withType, `${where} / with ${i + 1}`, file)) } : {}),
      skipWhenEmpty:
        rule.from !== undefined && !rule.required && rule.value === undefined && rule.context === undefined,
      many: rule.repeat !== 'first' && (lastStep ? lastStep.isArray && lastStep.index === undefined : false),
      constant: constantOf(rule.value),
      targetType,
      where,
    } as CompiledRule;
    return compiled;
  }

  message(map: MessageMap): CompiledMessageMap {
    const names = new Set(map.instances.map((i) => i.name));
    const instances = map.instances.map((def, i): CompiledInstance => {
      const where = `message ${map.id} instance ${i + 1} (${def.name})`;
      const segmentMap = this.segment(def.map, where, map.file);
      if (segmentMap.segment !== def.segment) {
        throw new TemplateError(
          TemplateErrorCode.Reference,
          `${where}: map ${def.map} is for ${segmentMap.segment} segments, not ${def.segment}`,
          map.file,
        );
      }
      const referencePaths = (def.references ?? []).map((r) => {
        if (r.instance !== '*' && !names.has(r.instance))
          throw new TemplateError(
            TemplateErrorCode.Reference,
            `${where}: no instance named "${r.instance}" in this message map`,
            map.file,
          );
        const p = compilePath(segmentMap.resource, r.path);
        if (typeof p === 'string')
          throw new TemplateError(TemplateErrorCode.FhirPath, `${where}: "${r.path}": ${p}`, map.file);
        if (p.type !== 'Reference')
          throw new TemplateError(
            TemplateErrorCode.FhirPath,
            `${where}: ${segmentMap.resource}.${r.path} is a ${p.type}, not a Reference`,
            map.file,
          );
        return { path: p, instance: r.instance, scope: r.scope ?? 'nearest' };
      });
      return {
        ...def,
        segmentMap,
        also: (def.also ?? []).map((a) => ({
          segment: a.segment,
          scope: a.scope ?? 'siblings',
          map: this.segment(a.map, where, map.file),
        })),
        ...(def.when ? { when: this.condition(def.when, where, map.file) } : {}),
        referencePaths,
        keyValues: (def.key?.values ?? []).map(parseSource),
        ...(def.key?.identifiersFrom !== undefined
          ? {
              identifiersFrom: {
                path: parseSource(def.key.identifiersFrom),
                map: this.datatype('CX[Identifier]', where, map.file),
              },
            }
          : {}),
      } as CompiledInstance;
    });
    return { map, structure: compileStructure(map.structure), instances };
  }
}

// ---- source paths ----------------------------------------------------------------------------------------------

interface Scope {
  seg: SourceSegment;
  /** The node a datatype map reads from; absent at segment level. */
  node?: V2Node;
  /** The resource being built (FHIRPath input). */
  resource: Json;
}

const NO_NODES: V2Node[] = [];

function sourceSegment(path: ParsedSource, scope: Scope): SourceSegment | undefined {
  const name = path.segment!;
  return name === scope.seg.name ? scope.seg : scope.seg.group.nearest(name);
}

function descend(node: V2Node, rest: number[]): V2Node {
  let n = node;
  for (const c of rest) n = n.child(c);
  return n;
}

/** Every node a path names (one per repetition of its field). */
function select(path: ParsedSource, scope: Scope): V2Node[] {
  const first = path.parts[0]!;
  let nodes: V2Node[];
  if (path.segment) {
    const seg = sourceSegment(path, scope);
    if (!seg) return NO_NODES;
    nodes = fieldRepetitions(seg, first);
  } else if (scope.node) {
    return [descend(first === 0 ? scope.node : scope.node.child(first), path.rest)];
  } else {
    nodes = fieldRepetitions(scope.seg, first);
  }
  if (path.rest.length === 0) return nodes;
  return nodes.map((node) => descend(node, path.rest));
}

/** The first node a path names (valued or not), without building the list. */
function firstNode(path: ParsedSource, scope: Scope): V2Node | undefined {
  const first = path.parts[0]!;
  let base: V2Node | undefined;
  if (path.segment) {
    const seg = sourceSegment(path, scope);
    if (!seg) return undefined;
    base = fieldRepetitions(seg, first)[0];
  } else if (scope.node) {
    base = first === 0 ? scope.node : scope.node.child(first);
  } else {
    base = fieldRepetitions(scope.seg, first)[0];
  }
  return base && descend(base, path.rest);
}

/** Whether any node a path names has a value. */
function anyValued(path: ParsedSource, scope: Scope): boolean {
  const first = path.parts[0]!;
  let nodes: V2Node[];
  if (path.segment) {
    const seg = sourceSegment(path, scope);
    if (!seg) return false;
    nodes = fieldRepetitions(seg, first);
  } else if (scope.node) {
    return !descend(first === 0 ? scope.node : scope.node.child(first), path.rest).isEmpty;
  } else {
    nodes = fieldRepetitions(scope.seg, first);
  }
  for (const node of nodes) if (!descend(node, path.rest).isEmpty) return true;
  return false;
}

function locationOf(path: ParsedSource, scope: Scope): string {
  if (path.segment) return `${path.segment}-${path.parts.join('.')}`;
  if (scope.node) return `${scope.node.location}.${path.parts.join('.')}`;
  return `${segmentLabel(scope.seg)}-${path.parts.join('.')}`;
}

// ---- running -------------------------------------------------------------------------------------------------

interface Produced {
  key: string;
  resource: Json;
  mode: WriteMode | 'operation';
  /** Conditional query (identifier=…) or stable id seed. */
  query?: string;
  idSeed?: string;
  fullUrl?: string;
  instance?: CompiledInstance;
  seg?: SourceSegment;
  operationUrl?: string;
  /** Merged into an earlier entry naming the same resource: not written. */
  merged?: boolean;
  /** Holds `#produced:` references to resolve. */
  hasMarkers?: boolean;
}

function encodeToken(system: string, value: string): string {
  return `${encodeURIComponent(system)}|${encodeURIComponent(value)}`;
}

/** The identifier query (`identifier=sys|v,sys2|v2`) of a resource, preferring identifiers of the given types. */
export function identifierQuery(resource: Json, types?: string[]): string | undefined {
  const ids = ((resource.identifier as Json[] | undefined) ?? []).filter(
    (i) => typeof i.system === 'string' && typeof i.value === 'string',
  );
  let chosen = ids;
  if (types && types.length > 0) {
    const typed = ids.filter((i) =>
      ((i.type as Json | undefined)?.coding as Json[] | undefined)?.some((c) => types.includes(String(c.code))),
    );
    if (typed.length > 0) chosen = typed;
  }
  if (chosen.length === 0) return undefined;
  return `identifier=${chosen.map((i) => encodeToken(String(i.system), String(i.value))).join(',')}`;
}

const PRODUCED_PREFIX = '#produced:';

export class MappingRun {
  readonly issues: MappingIssue[] = [];
  private readonly produced: Produced[] = [];
  private readonly byInstance = new Map<CompiledInstance, { seg: SourceSegment; item: Produced }[]>();
  private readonly byKey = new Map<string, Produced>();
  /** instance name → group → the first item (nearest lookups) and all items (within lookups) in that group's subtree. */
  private groupIndex: Map<string, { first: Map<SourceGroup, Produced>; all: Map<SourceGroup, Produced[]> }> | undefined;
  private readonly timeZone: string;
  private root!: SourceGroup;
  private triggerEvent: string | null | undefined | false = false;
  /** References to resources made by datatype maps, written as `#produced:key` until their fullUrl is known. */
  private producedReferences = 0;

  constructor(
    private readonly message: Hl7Message,
    private readonly context: MappingContext,
    private readonly compiled: CompiledMessageMap,
    private readonly options: InterpreterOptions,
  ) {
    this.timeZone = options.timeZone ?? 'Europe/Paris';
  }

  /** MSH-9.2, read once. */
  trigger(): string | null | undefined {
    if (this.triggerEvent === false) this.triggerEvent = this.message.get('MSH-9.2');
    return this.triggerEvent;
  }

  run(): MappingResult {
    this.root = groupMessage(this.message, this.compiled.structure, this.issues);
    const segments = [...this.root.segments()];
    for (const instance of this.compiled.instances) {
      for (const seg of segments) {
        if (seg.name !== instance.segment) continue;
        const resource: Json = { resourceType: instance.segmentMap.resource };
        const scope: Scope = { seg, resource };
        if (instance.when && !instance.when(this, scope, undefined)) continue;
        const markersBefore = this.producedReferences;
        this.applyRules(instance.segmentMap.compiled, scope, resource);
        for (const also of instance.also) {
          // Siblings: the segments of that name in the same group (PV2 next to PV1, NTEs after an OBX); within: the
          // whole group (the OBX of an MDM); else the nearest one (ZBE for a PV1 of another group).
          let others =
            also.scope === 'within'
              ? [...seg.group.segments()].filter((s) => s.name === also.segment)
              : seg.group.children.filter(
                  (c): c is SourceSegment => !(c instanceof SourceGroupClass) && c.name === also.segment,
                );
          if (others.length === 0) {
            const nearest = seg.group.nearest(also.segment);
            others = nearest ? [nearest] : [];
          }
          for (const other of others) this.applyRules(also.map.compiled, { seg: other, resource }, resource);
        }
        const item: Produced = {
          key: `${instance.name}@${segmentLabel(seg)}`,
          resource,
          mode: instance.operation ? 'operation' : (instance.write ?? WriteMode.Upsert),
          instance,
          seg,
        };
        if (this.producedReferences !== markersBefore) item.hasMarkers = true;
        this.produced.push(item);
        this.byKey.set(item.key, item);
        const list = this.byInstance.get(instance);
        if (list) list.push({ seg, item });
        else this.byInstance.set(instance, [{ seg, item }]);
      }
    }
    this.assignRequests();
    this.resolveReferences();
    return { bundle: this.bundle(), issues: this.issues };
  }

  // -- rules --

  private applyRules(rules: CompiledRule[], scope: Scope, target: Json): void {
    for (const rule of rules) {
      try {
        this.applyRule(rule, scope, target);
      } catch (error) {
        if (error instanceof TemplateError) throw error;
        this.issues.push({
          severity: 'error',
          code: 'MAPPING_FAILED',
          message: `The mapping rule ${rule.where} failed: ${(error as Error).message}. Report it with the message: it is a defect of the template or the engine.`,
          location: scope.node?.location ?? segmentLabel(scope.seg),
          rule: rule.where,
        });
      }
    }
  }

  private applyRule(rule: CompiledRule, scope: Scope, target: Json): void {
    // A rule reading an empty field does nothing (unless the value is required): skip its condition too.
    if (rule.skipWhenEmpty && !anyValued(rule.from!, scope)) return;
    if (rule.when && !rule.when(this, scope, target)) return;
    switch (rule.kind) {
      case RuleKind.Value:
        this.write(rule, target, rule.constant());
        return;
      case RuleKind.Context:
        this.writeText(rule, scope, target, textNode(this.context[rule.context!], `context.${rule.context}`));
        return;
      case RuleKind.Expression: {
        const value = this.evaluate(rule, scope, undefined, target);
        if (value !== undefined) this.write(rule, target, value);
        return;
      }
      case RuleKind.From: {
        const nodes = select(rule.from!, scope);
        let written = 0;
        for (const node of nodes) {
          if (node.isEmpty) continue;
          written++;
          this.writeText(rule, scope, target, node);
          if (!rule.many) return;
        }
        if (written === 0 && rule.required) {
          const location = locationOf(rule.from!, scope);
          this.issues.push({
            severity: 'error',
            code: 'REQUIRED_MISSING',
            message: `${location} is required to map ${rule.to ?? rule.targetType} but is empty; the sender must value it.`,
            location,
            rule: rule.where,
            params: { location, target: String(rule.to ?? rule.targetType) },
          });
        }
        return;
      }
      default:
        rule.kind satisfies never;
    }
  }

  private writeText(rule: CompiledRule, scope: Scope, target: Json, node: V2Node): void {
    if (rule.datatype) {
      const dt = rule.datatype;
      if (dt.resource) {
        const resource: Json = { resourceType: dt.fhirType };
        const inner: Scope = { seg: scope.seg, node, resource };
        const markersBefore = this.producedReferences;
        this.applyRules(dt.compiled, inner, resource);
        if (rule.with) this.applyRules(rule.with, inner, resource);
        const pruned = prune(resource);
        if (!pruned || Object.keys(pruned).length <= 1) return;
        const item = this.produceFromDatatype(pruned, this.producedReferences !== markersBefore);
        this.producedReferences++;
        this.write(rule, target, { reference: `${PRODUCED_PREFIX}${item.key}` });
        return;
      }
      const element: Json = rule.path ? {} : target;
      const inner: Scope = { seg: scope.seg, node, resource: scope.resource };
      this.applyRules(dt.compiled, inner, element);
      if (rule.vocabulary) this.translateElement(rule, element, node);
      if (rule.with) this.applyRules(rule.with, inner, element);
      if (rule.path) {
        const pruned = prune(element);
        if (pruned) this.write(rule, target, pruned);
      }
      return;
    }
    if (rule.fast) {
      const value = this.evaluate(rule, { ...scope, node }, rule.type === 'text' ? node.text() : node.value(), target);
      if (value !== undefined) this.write(rule, target, value);
      return;
    }
    let text =
      rule.type === 'text'
        ? rule.join !== undefined
          ? leaves(node).join(rule.join) || undefined
          : node.text()
        : node.value();
    if (text === undefined) return;
    if (rule.vocabulary) {
      const translated = this.translateCode(rule, text, node, target);
      if (translated === undefined) return;
      text = translated;
    }
    let value: string | number | boolean;
    try {
      value = toPrimitiveCached(rule.targetType, text, this.timeZone);
    } catch (error) {
      if (!(error instanceof ConversionProblem)) throw error;
      this.issues.push({
        severity: 'warning',
        code: 'BAD_VALUE',
        message: `${node.location}: the value "${text.slice(0, 40)}" does not fit ${rule.to ?? rule.targetType} (${rule.targetType}) and was not mapped; correct it at the sender. Detail: ${error.message}.`,
        location: node.location,
        rule: rule.where,
        params: {
          location: node.location,
          value: text.slice(0, 40),
          target: String(rule.to ?? rule.targetType),
          type: String(rule.targetType),
          reason: error.message,
        },
      });
      return;
    }
    this.write(rule, target, value);
  }

  private write(rule: CompiledRule, target: Json, value: unknown): void {
    if (rule.path) writeValue(target, rule.path, value);
    else if (isObject(value)) Object.assign(target, value);
  }

  /** A code through a ConceptMap into a primitive code element; an unmapped one is kept in an extension and flagged. */
  private translateCode(rule: CompiledRule, code: string, node: V2Node, target: Json): string | undefined {
    if (rule.vocabulary === 'v2-coding-system-uri') return this.options.terminology.codingSystemUri(code).uri;
    const match =
      this.options.terminology.translateOne(rule.vocabulary!, code) ??
      this.options.terminology.translateOne(rule.vocabulary!, code.toUpperCase());
    if (match) return match.code;
    this.issues.push({
      severity: 'warning',
      code: 'UNMAPPED_CODE',
      message: `${node.location}: the code "${code.slice(0, 40)}" is not in the ConceptMap ${rule.vocabulary}; it was kept as it is in an extension. Add it to terminology-maps/ if it has an equivalent.`,
      location: node.location,
      rule: rule.where,
      params: { location: node.location, code: code.slice(0, 40), map: String(rule.vocabulary) },
    });
    if (rule.path) writePrimitiveExtension(target, rule.path, { url: ORIGINAL_CODE_EXTENSION, valueString: code });
    return undefined;
  }

  /** Vocabulary on a complex element: a CodeableConcept/Coding gets the translated coding first, a Quantity UCUM. */
  private translateElement(rule: CompiledRule, element: Json, node: V2Node): void {
    const t = this.options.terminology;
    if (rule.vocabulary === 'ucum') {
      const unitText = (element.unit as string | undefined) ?? (element.code as string | undefined);
      if (!unitText) return;
      // The code is UCUM only when the sender says so (CWE-3 = UCUM); otherwise the unit text, then a code that
      // looks like a unit (not a bare number: "1" is a valid UCUM unit but a local code "1" is not a unit).
      const sentUcum = element.system === t.systems.ucum;
      const candidates = [
        ...(sentUcum && typeof element.code === 'string' ? [element.code] : []),
        ...(typeof element.unit === 'string' ? [element.unit] : []),
        ...(!sentUcum && typeof element.code === 'string' && /[A-Za-z%/[]/.test(element.code) ? [element.code] : []),
      ];
      for (const candidate of candidates) {
        const u = t.toUcum(candidate);
        if (u) {
          element.system = t.systems.ucum;
          element.code = u.code;
          if (!element.unit) element.unit = candidate;
          return;
        }
      }
      delete element.system;
      delete element.code;
      element.unit = unitText;
      this.issues.push({
        severity: 'warning',
        code: 'UNMAPPED_UNIT',
        message: `${node.location}: the unit "${unitText.slice(0, 40)}" is not UCUM and no row of terminology-maps/maps/units-to-ucum.json maps it; it was kept as text. Add the spelling to that ConceptMap.`,
        location: node.location,
        rule: rule.where,
        params: { location: node.location, unit: unitText.slice(0, 40) },
      });
      return;
    }
    const all = Array.isArray(element.coding)
      ? (element.coding as Json[])
      : isObject(element) && typeof element.code === 'string'
        ? [element]
        : [];
    // Only codes the map is about: a coding already in the map's target system (LOINC for a local → LOINC map)
    // or in another system entirely is left as it is, unflagged. A system that is both a source and a target (table
    // 0177: R → v3 Confidentiality R, VIP → 0177 VIP) is translated.
    const sources = t.mapSources(rule.vocabulary!);
    const targets = t.mapTargets(rule.vocabulary!);
    if (all.some((c) => typeof c.system === 'string' && targets.has(c.system) && !sources.has(c.system))) return;
    const codings = all.filter(
      (c) =>
        typeof c.system !== 'string' ||
        sources.size === 0 ||
        sources.has(c.system) ||
        !/^(https?:|urn:)/.test(c.system),
    );
    for (const coding of codings) {
      if (typeof coding.code !== 'string') continue;
      const match =
        t.translateOne(rule.vocabulary!, coding.code, coding.system as string | undefined) ??
        t.translateOne(rule.vocabulary!, coding.code.toUpperCase());
      if (match) {
        const translated: Json = {
          ...(match.system ? { system: match.system } : {}),
          code: match.code,
          ...(match.display ? { display: match.display } : {}),
        };
        if (Array.isArray(element.coding)) {
          const already = (element.coding as Json[]).some(
            (c) => c.system === translated.system && c.code === translated.code,
          );
          if (!already) (element.coding as Json[]).unshift(translated);
        } else Object.assign(element, translated);
        return;
      }
    }
    const first = codings[0];
    if (first && typeof first.code === 'string') {
      this.issues.push({
        severity: 'warning',
        code: 'UNMAPPED_CODE',
        message: `${node.location}: the code "${first.code.slice(0, 40)}"${first.system ? ` (${String(first.system).slice(0, 80)})` : ''} is not in the ConceptMap ${rule.vocabulary}; it was kept as sent. Add it to terminology-maps/ if it has an equivalent.`,
        location: node.location,
        rule: rule.where,
        params: { location: node.location, code: first.code.slice(0, 40), map: String(rule.vocabulary) },
      });
    }
  }

  /**
   * FHIRPath on the element being built (`%resource` is the whole resource, `%value` the v2 value, `%context` the
   * element being built: FHIRPath's name for the evaluation's input, which stays reachable inside function arguments).
   */
  private evaluate(rule: CompiledRule, scope: Scope, value: string | undefined, target: Json): unknown {
    const element: TypedValue = { type: String(target.resourceType ?? 'Element'), value: target };
    const variables: Record<string, TypedValue> = {
      '%resource': { type: String(scope.resource.resourceType ?? 'Resource'), value: scope.resource },
      '%context': element,
    };
    if (value !== undefined) variables['%value'] = { type: 'string', value };
    const result = rule.fast!([element], variables);
    const first = result[0];
    return first === undefined ? undefined : first.value;
  }

  // -- produced resources --

  private produceFromDatatype(resource: Json, hasMarkers: boolean): Produced {
    const query = identifierQuery(resource);
    const hash = query ? undefined : stableHash(resource);
    const key = query ? `${resource.resourceType}?${query}` : `${resource.resourceType}#${hash}`;
    const existing = this.byKey.get(key);
    if (existing) {
      mergeInto(existing.resource, resource);
      if (hasMarkers) existing.hasMarkers = true;
      return existing;
    }
    const item: Produced = query
      ? { key, resource, mode: WriteMode.CreateIfAbsent, query }
      : { key, resource, mode: WriteMode.Upsert, idSeed: `content:${hash}` };
    if (hasMarkers) item.hasMarkers = true;
    this.produced.push(item);
    this.byKey.set(key, item);
    return item;
  }

  private assignRequests(): void {
    const seen = new Map<string, Produced>();
    for (const item of this.produced) {
      const type = String(item.resource.resourceType);
      const instance = item.instance;
      if (item.mode === WriteMode.PerMessage) {
        item.idSeed = `${instance?.name ?? type}|message|${this.context.messageId}`;
      } else if (item.mode === 'operation') {
        item.idSeed = `${instance?.name}|operation|${this.context.messageId}|${item.key}`;
      } else if (instance) {
        const useIdentifiers = instance.key?.identifiers !== false;
        let keyResource = item.resource;
        if (instance.identifiersFrom) {
          const identifier: Json[] = [];
          for (const node of select(instance.identifiersFrom.path, { seg: item.seg!, resource: item.resource })) {
            if (node.isEmpty) continue;
            const element: Json = {};
            this.applyRules(
              instance.identifiersFrom.map.compiled,
              { seg: item.seg!, node, resource: item.resource },
              element,
            );
            const pruned = prune(element);
            if (pruned) identifier.push(pruned);
          }
          keyResource = { identifier };
        }
        const query = useIdentifiers ? identifierQuery(keyResource, instance.key?.systems) : undefined;
        if (query) item.query = query;
        else {
          const values = instance.keyValues.map(
            (p) => firstNode(p, { seg: item.seg!, resource: item.resource })?.value() ?? '',
          );
          if (values.some((v) => v !== '')) item.idSeed = `${type}|${values.join('|')}`;
          else item.idSeed = `${type}|message|${this.context.messageId}|${item.key}`;
        }
      }
      const dedupeKey = item.query ? `${type}?${item.query}` : `${type}/${item.idSeed}`;
      const previous = seen.get(dedupeKey);
      if (previous && previous !== item) {
        if (item.query) {
          // The same real-world resource named twice: one entry, both references lead to it.
          mergeInto(previous.resource, item.resource);
          if (item.hasMarkers) previous.hasMarkers = true;
          item.fullUrl = previous.fullUrl;
          item.resource = previous.resource;
          item.merged = true;
          continue;
        }
        item.idSeed = `${item.idSeed}|${item.key}`;
      }
      seen.set(item.query ? dedupeKey : `${type}/${item.idSeed}`, item);
      item.fullUrl = `urn:uuid:${nameUuid(`${this.context.messageId}|${item.query ? `${type}?${item.query}` : `${type}/${item.idSeed}`}|${item.mode}`)}`;
    }
  }

  private resolveReferences(): void {
    // References written by datatype maps (#produced:key) become fullUrls.
    if (this.producedReferences > 0) {
      const urlOf = (key: string) => this.byKey.get(key)?.fullUrl;
      for (const item of this.produced)
        if (item.hasMarkers && !item.merged) rewriteProducedReferences(item.resource, urlOf);
    }
    for (const [instance, list] of this.byInstance) {
      if (instance.referencePaths.length === 0) continue;
      for (const { seg, item } of list) {
        if (item.merged) continue;
        for (const ref of instance.referencePaths) {
          const targets = this.findInstances(ref.instance, seg, ref.scope).filter(
            (t) => t !== item && t.fullUrl !== item.fullUrl,
          );
          const unique = [...new Map(targets.map((t) => [t.fullUrl, t])).values()];
          const last = ref.path.steps[ref.path.steps.length - 1]!;
          for (const t of last.isArray ? unique : unique.slice(0, 1)) {
            if (item.mode === 'operation') continue;
            writeValue(item.resource, ref.path, { reference: t.fullUrl });
          }
        }
      }
    }
  }

  private findInstances(name: string, from: SourceSegment, scope: 'nearest' | 'within'): Produced[] {
    if (name === '*') return this.produced.filter((p) => p.mode !== 'operation' && p.mode !== WriteMode.PerMessage);
    const index = this.indexGroups().get(name);
    if (!index) return [];
    if (scope === 'within') return index.all.get(from.group) ?? [];
    for (let g: SourceGroup | undefined = from.group; g; g = g.parent) {
      const found = index.first.get(g);
      if (found) return [found];
    }
    return [];
  }

  /** Built once per message: each instance registered with every group that contains its segment. */
  private indexGroups(): Map<string, { first: Map<SourceGroup, Produced>; all: Map<SourceGroup, Produced[]> }> {
    if (this.groupIndex) return this.groupIndex;
    const index = new Map<string, { first: Map<SourceGroup, Produced>; all: Map<SourceGroup, Produced[]> }>();
    for (const [instance, list] of this.byInstance) {
      let entry = index.get(instance.name);
      if (!entry) index.set(instance.name, (entry = { first: new Map(), all: new Map() }));
      for (const { seg, item } of [...list].sort((a, b) => a.seg.index - b.seg.index)) {
        for (let g: SourceGroup | undefined = seg.group; g; g = g.parent) {
          if (!entry.first.has(g)) entry.first.set(g, item);
          const all = entry.all.get(g);
          if (all) all.push(item);
          else entry.all.set(g, [item]);
        }
      }
    }
    this.groupIndex = index;
    return index;
  }

  private bundle(): Bundle {
    const entries: BundleEntry[] = [];
    for (const item of this.produced) {
      if (item.merged) continue;
      const type = String(item.resource.resourceType);
      const resource = (prune(item.resource) ?? { resourceType: type }) as Json;
      if (item.mode === 'operation') {
        entries.push(this.operationEntry(item, resource));
        continue;
      }
      let request: BundleEntry['request'];
      if (item.query && item.mode === WriteMode.CreateIfAbsent)
        request = { method: 'POST', url: type, ifNoneExist: item.query };
      else if (item.query) request = { method: 'PUT', url: `${type}?${item.query}` };
      else {
        const id = nameUuid(`${type}/${item.idSeed}`);
        resource.id = id;
        request = { method: 'PUT', url: `${type}/${id}` };
      }
      entries.push({ fullUrl: item.fullUrl!, resource: resource as unknown as Resource, request });
    }
    return { resourceType: 'Bundle', type: 'transaction', entry: entries };
  }

  /** `Patient/$merge` (A40): the source is the patient named by MRG, the target the instance referenced. */
  private operationEntry(item: Produced, resource: Json): BundleEntry {
    const instance = item.instance!;
    const url = instance.operation!.url;
    const parameter: Json[] = [];
    const sourceQuery = identifierQuery(resource, instance.key?.systems);
    if (sourceQuery)
      parameter.push({
        name: 'source-patient',
        valueReference: { reference: `${resource.resourceType}?${sourceQuery}` },
      });
    else {
      this.issues.push({
        severity: 'error',
        code: 'MERGE_SOURCE_MISSING',
        message: `${segmentLabel(item.seg!)}: the patient to merge has no identifier with an assigning authority (MRG-1); the merge cannot name it. The sender must fill MRG-1 like PID-3.`,
        location: `${segmentLabel(item.seg!)}-1`,
      });
    }
    for (const ref of instance.referencePaths) {
      const target = this.findInstances(ref.instance, item.seg!, ref.scope)[0];
      const query = target ? identifierQuery(target.resource, instance.key?.systems) : undefined;
      if (target && query)
        parameter.push({
          name: 'target-patient',
          valueReference: { reference: `${target.resource.resourceType}?${query}` },
        });
      else {
        this.issues.push({
          severity: 'error',
          code: 'MERGE_TARGET_MISSING',
          message: `The surviving patient (PID-3) has no identifier with an assigning authority; the merge cannot name it.`,
          location: 'PID-3',
        });
      }
    }
    return {
      fullUrl: item.fullUrl!,
      resource: { resourceType: 'Parameters', parameter } as unknown as Resource,
      request: { method: 'POST', url },
    };
  }
}

/** The non-empty leaf values of a node (components, then their subcomponents), in order. */
function leaves(node: V2Node): string[] {
  const out: string[] = [];
  let emptyComponents = 0;
  for (let c = 1; c <= 50 && emptyComponents < 8; c++) {
    const component = node.child(c);
    if (component.isEmpty) {
      emptyComponents++;
      continue;
    }
    emptyComponents = 0;
    let emptySubs = 0;
    for (let sub = 1; sub <= 20 && emptySubs < 4; sub++) {
      const v = component.child(sub).value();
      if (v === undefined) emptySubs++;
      else {
        emptySubs = 0;
        out.push(v);
      }
    }
  }
  return out;
}

/** `#produced:key` markers (only ever written as a `reference`) → the fullUrl of the resource made for that key. */
function rewriteProducedReferences(node: unknown, urlOf: (key: string) => string | undefined): void {
  if (Array.isArray(node)) {
    for (const v of node) if (v !== null && typeof v === 'object') rewriteProducedReferences(v, urlOf);
  } else if (node !== null && typeof node === 'object') {
    const o = node as Json;
    for (const k in o) {
      const v = o[k];
      if (typeof v === 'string') {
        if (k === 'reference' && v.startsWith(PRODUCED_PREFIX)) o[k] = urlOf(v.slice(PRODUCED_PREFIX.length)) ?? v;
      } else if (v !== null && typeof v === 'object') rewriteProducedReferences(v, urlOf);
    }
  }
}

/** Adds what `from` has and `into` lacks (arrays: items not already present). */
function mergeInto(into: Json, from: Json): void {
  for (const [k, v] of Object.entries(from)) {
    const existing = into[k];
    if (existing === undefined) into[k] = v;
    else if (Array.isArray(existing) && Array.isArray(v)) {
      const present = new Set(existing.map(stable));
      for (const item of v) {
        const text = stable(item);
        if (present.has(text)) continue;
        present.add(text);
        existing.push(item);
      }
    } else if (isObject(existing) && isObject(v)) mergeInto(existing, v);
  }
}

export function stableHash(value: unknown): string {
  return nameUuid(stable(value));
}

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
