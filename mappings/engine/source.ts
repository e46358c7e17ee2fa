// The source side of a mapping: an HL7 v2 message seen as a tree of groups (from the message structure in the
// template, in the standard's bracket notation) holding segments, and each segment's fields, repetitions,
// components and subcomponents as uniform nodes that templates address with numbers from 1 (like PID-3.4.2).
import type { Hl7Component, Hl7Delimiters, Hl7Message, Hl7Repetition, Hl7Segment } from '../../adapters/hl7v2/index.js';
import type { MappingIssue } from '../mapper.js';

/** One element of a v2 value at any depth: a repetition, a component, a subcomponent. */
export interface V2Node {
  /** Nothing there (the HL7 null `""` counts as empty for mapping, see `isNull`). */
  readonly isEmpty: boolean;
  /** The HL7 null `""`: the sender says "delete this value". */
  readonly isNull: boolean;
  /** First leaf, unescaped; undefined when empty. */
  value(): string | undefined;
  /** The whole element as text (components and subcomponents joined with their separators, unescaped leaves). */
  text(): string | undefined;
  /** Child `n` (from 1): component of a repetition, subcomponent of a component; a leaf's child 1 is itself. */
  child(n: number): V2Node;
  /** Where this node is, like `OBX[2]-5.1`. */
  readonly location: string;
}

// Nodes are made once per message and keep what they computed: a template reads the same field many times (a
// `when:` on OBX-2 for each OBX rule), so children, values and texts are cached, and locations are built only
// when an issue needs one.

/** A leaf: a subcomponent, or a constant (textNode). */
class LeafNode implements V2Node {
  readonly isEmpty: boolean;
  #location: string | undefined;
  constructor(
    private readonly raw: string | null | undefined,
    private readonly parent: V2Node | undefined,
    private readonly n: number,
    location?: string,
  ) {
    this.isEmpty = raw === undefined || raw === '' || raw === null;
    this.#location = location;
  }
  get location(): string {
    return (this.#location ??= `${this.parent!.location}.${this.n}`);
  }
  get isNull(): boolean {
    return this.raw === null;
  }
  value(): string | undefined {
    return this.isEmpty ? undefined : (this.raw as string);
  }
  text(): string | undefined {
    return this.value();
  }
  child(n: number): V2Node {
    return n === 1 ? this : new LeafNode(undefined, this, n);
  }
}

/** A component: children are its subcomponents. */
class ComponentNode implements V2Node {
  readonly isEmpty: boolean;
  readonly isNull: boolean;
  #children: LeafNode[] | undefined;
  #value: string | undefined | null = null;
  constructor(
    private readonly component: Hl7Component,
    private readonly subcomponentSeparator: string,
    private readonly parent: V2Node,
    private readonly n: number,
  ) {
    const raw = component.raw;
    this.isEmpty = raw === '' || raw === '""';
    this.isNull = raw === '""';
  }
  get location(): string {
    return `${this.parent.location}.${this.n}`;
  }
  value(): string | undefined {
    if (this.#value === null) {
      const v = this.component.subcomponent(1);
      this.#value = v === null || v === undefined || v === '' ? undefined : v;
    }
    return this.#value;
  }
  text(): string | undefined {
    if (this.isEmpty) return undefined;
    const t = this.component.text(this.subcomponentSeparator);
    return t === '' ? undefined : t;
  }
  child(n: number): V2Node {
    const children = (this.#children ??= []);
    return (children[n] ??= new LeafNode(this.component.subcomponent(n), this, n));
  }
}

/** A repetition of a field: children are its components. */
class RepetitionNode implements V2Node {
  readonly isEmpty: boolean;
  readonly isNull: boolean;
  #children: ComponentNode[] | undefined;
  #value: string | undefined | null = null;
  #text: string | undefined | null = null;
  constructor(
    private readonly repetition: Hl7Repetition,
    private readonly d: Hl7Delimiters,
    readonly location: string,
  ) {
    const raw = repetition.raw;
    this.isEmpty = raw === '' || raw === '""';
    this.isNull = raw === '""';
  }
  value(): string | undefined {
    if (this.#value === null) {
      const v = this.repetition.get(1, 1);
      this.#value = v === null || v === undefined || v === '' ? undefined : v;
    }
    return this.#value;
  }
  text(): string | undefined {
    if (this.isEmpty) return undefined;
    if (this.#text === null) {
      const d = this.d;
      const t = this.repetition
        .components()
        .map((c) => c.text(d.subcomponent))
        .join(d.component)
        .replace(trailing(d.component), '');
      this.#text = t === '' ? undefined : t;
    }
    return this.#text;
  }
  child(n: number): V2Node {
    const children = (this.#children ??= []);
    return (children[n] ??= new ComponentNode(this.repetition.component(n), this.d.subcomponent, this, n));
  }
}

const trailingPatterns = new Map<string, RegExp>();
function trailing(separator: string): RegExp {
  let re = trailingPatterns.get(separator);
  if (!re) trailingPatterns.set(separator, (re = new RegExp(`\\${separator}+$`)));
  return re;
}

export function repetitionNode(segment: Hl7Segment, field: number, repetition: number, location: string): V2Node {
  return new RepetitionNode(segment.field(field).repetition(repetition), segment.ctx.d, location);
}

/** A constant as a node (for values that come from the context rather than the message). */
export function textNode(text: string | undefined, location: string): V2Node {
  return new LeafNode(text, undefined, 1, location);
}

/** A segment found in the message, with its position for error locations. */
export interface SourceSegment {
  readonly segment: Hl7Segment;
  readonly name: string;
  /** 1-based occurrence of this segment name in the message (`OBX[3]`). */
  readonly sequence: number;
  /** 1-based position in the message. */
  readonly index: number;
  readonly group: SourceGroup;
  /** Field number → its repetitions as nodes, split once (see fieldRepetitions). */
  readonly fields: (V2Node[] | undefined)[];
}

export function segmentLabel(s: SourceSegment): string {
  return `${s.name}[${s.sequence}]`;
}

const NO_NODES: V2Node[] = [];

/** All repetitions of field `n` of a segment as nodes (none when the field is empty); split once per segment. */
export function fieldRepetitions(s: SourceSegment, field: number): V2Node[] {
  return (s.fields[field] ??= splitField(s, field));
}

function splitField(s: SourceSegment, field: number): V2Node[] {
  const f = s.segment.field(field);
  if (f.isEmpty) return NO_NODES;
  const repetitions = f.isNull ? [f.repetition(1)] : f.repetitions();
  const count = repetitions.length;
  const d = s.segment.ctx.d;
  const label = `${segmentLabel(s)}-${field}`;
  return repetitions.map((r, i) => new RepetitionNode(r, d, count > 1 ? `${label}[${i + 1}]` : label));
}

/** A group of the message structure (`PATIENT_RESULT`, `ORDER_OBSERVATION`…); the root is the message. */
export class SourceGroup {
  readonly children: (SourceGroup | SourceSegment)[] = [];
  constructor(
    readonly name: string,
    readonly parent: SourceGroup | undefined,
  ) {}

  /** Every segment in this group and its sub-groups, in message order. */
  *segments(): Generator<SourceSegment> {
    for (const c of this.children) {
      if (c instanceof SourceGroup) yield* c.segments();
      else yield c;
    }
  }

  #first: Map<string, SourceSegment> | undefined;
  #nearest = new Map<string, SourceSegment | null>();

  /** The first segment named `name` in this group's subtree (indexed once: the tree is complete when read). */
  find(name: string): SourceSegment | undefined {
    if (!this.#first) {
      this.#first = new Map();
      for (const s of this.segments()) if (!this.#first.has(s.name)) this.#first.set(s.name, s);
    }
    return this.#first.get(name);
  }

  /** The nearest segment named `name` seen from here: this subtree, then each ancestor's subtree. */
  nearest(name: string): SourceSegment | undefined {
    const hit = this.#nearest.get(name);
    if (hit !== undefined) return hit ?? undefined;
    let found = this.find(name);
    for (let g = this.parent; g && !found; g = g.parent) found = g.find(name);
    this.#nearest.set(name, found ?? null);
    return found;
  }
}

// ---- message structure -------------------------------------------------------------------------------------

/** An item of a message structure: a segment (`PID`, `[PD1]`, `[{NTE}]`) or a group. */
export type StructureItem =
  | { kind: 'segment'; name: string; optional: boolean; repeat: boolean }
  | { kind: 'group'; name: string; optional: boolean; repeat: boolean; items: StructureItem[] };

/** The template form: a string in the standard's notation, or a group object. */
export type StructureTemplate =
  string | { group: string; optional?: boolean; repeat?: boolean; items: StructureTemplate[] };

export const SEGMENT_NOTATION = /^(\[)?(\{)?([A-Z][A-Z0-9]{2})(\})?(\])?$/;

export function compileStructure(items: StructureTemplate[]): StructureItem[] {
  return items.map((item) => {
    if (typeof item === 'string') {
      const m = SEGMENT_NOTATION.exec(item)!;
      return { kind: 'segment', name: m[3]!, optional: m[1] === '[', repeat: m[2] === '{' };
    }
    return {
      kind: 'group',
      name: item.group,
      optional: item.optional ?? false,
      repeat: item.repeat ?? false,
      items: compileStructure(item.items),
    };
  });
}

/** Segment names that can begin a group (its leading optional items and its first required one). */
function firstNames(items: StructureItem[], out = new Set<string>()): Set<string> {
  for (const item of items) {
    if (item.kind === 'segment') out.add(item.name);
    else firstNames(item.items, out);
    if (!item.optional) break;
  }
  return out;
}

/**
 * Splits the message's segments into the groups of `structure`, greedily, as a receiver reads it. Z-segments the
 * structure does not name join the group being read; any other segment out of place is kept in the group being
 * read and reported (information), never dropped.
 */
export function groupMessage(message: Hl7Message, structure: StructureItem[], issues: MappingIssue[]): SourceGroup {
  const names = message.segmentNames();
  const counts = new Map<string, number>();
  const root = new SourceGroup('MESSAGE', undefined);
  const all: { name: string; sequence: number; index: number }[] = names.map((name, i) => {
    const sequence = (counts.get(name) ?? 0) + 1;
    counts.set(name, sequence);
    return { name, sequence, index: i + 1 };
  });
  let pos = 0;
  const named = new Set<string>();
  const collect = (items: StructureItem[]) => {
    for (const item of items) {
      if (item.kind === 'segment') named.add(item.name);
      else collect(item.items);
    }
  };
  collect(structure);

  const take = (group: SourceGroup) => {
    const s = all[pos]!;
    group.children.push({
      segment: message.segmentAt(s.index)!,
      name: s.name,
      sequence: s.sequence,
      index: s.index,
      group,
      fields: [],
    });
    pos++;
  };

  const matchItems = (items: StructureItem[], group: SourceGroup, startAt = 0): number => {
    let i = startAt;
    for (; i < items.length && pos < all.length; i++) {
      const item = items[i]!;
      for (;;) {
        while (pos < all.length && all[pos]!.name.startsWith('Z') && !named.has(all[pos]!.name)) take(group);
        if (pos >= all.length) break;
        const current = all[pos]!.name;
        if (item.kind === 'segment') {
          if (current !== item.name) break;
          take(group);
        } else {
          if (!firstNames(item.items).has(current)) break;
          const child = new SourceGroup(item.name, group);
          group.children.push(child);
          matchItems(item.items, child);
        }
        if (!item.repeat) break;
      }
    }
    return i;
  };

  let resumeAt = 0;
  while (pos < all.length) {
    const before = pos;
    matchItems(structure, root, resumeAt);
    if (pos >= all.length) break;
    if (pos === before) {
      const s = all[pos]!;
      issues.push({
        severity: 'information',
        code: 'UNEXPECTED_SEGMENT',
        message: `${s.name}[${s.sequence}] is not where the message structure expects it; it was kept with the segments before it. Check the sender's segment order if data from it is missing.`,
        location: `${s.name}[${s.sequence}]`,
      });
      take(lastGroup(root));
    }
    resumeAt = firstRepeatable(structure);
  }
  return root;
}

function firstRepeatable(items: StructureItem[]): number {
  const i = items.findIndex((item) => item.repeat);
  return i < 0 ? 0 : i;
}

function lastGroup(root: SourceGroup): SourceGroup {
  let g = root;
  for (;;) {
    const last = g.children[g.children.length - 1];
    if (last instanceof SourceGroup) g = last;
    else return g;
  }
}
