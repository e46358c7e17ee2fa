// The source side of a mapping: an HL7 v2 message seen as a tree of groups (from the message structure in the
// template, in the standard's bracket notation) holding segments, and each segment's fields, repetitions,
// components and subcomponents as uniform nodes that templates address with numbers from 1 (like PID-3.4.2).
import type { Hl7Message, Hl7Segment } from '../../adapters/hl7v2/index.js';
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

const EMPTY_TEXT = '';

class LeafNode implements V2Node {
  constructor(
    private readonly raw: string | null | undefined,
    readonly location: string,
  ) {}
  get isEmpty(): boolean {
    return this.raw === undefined || this.raw === EMPTY_TEXT || this.raw === null;
  }
  get isNull(): boolean {
    return this.raw === null;
  }
  value(): string | undefined {
    return this.raw === null || this.raw === undefined || this.raw === '' ? undefined : this.raw;
  }
  text(): string | undefined {
    return this.value();
  }
  child(n: number): V2Node {
    return n === 1 ? this : new LeafNode(undefined, `${this.location}.${n}`);
  }
}

/** A repetition (children: components) or a component (children: subcomponents). */
class CompositeNode implements V2Node {
  constructor(
    private readonly parts: (n: number) => V2Node,
    private readonly first: () => string | null | undefined,
    private readonly whole: () => string,
    private readonly rawText: string,
    readonly location: string,
  ) {}
  get isEmpty(): boolean {
    return this.rawText === '' || this.rawText === '""';
  }
  get isNull(): boolean {
    return this.rawText === '""';
  }
  value(): string | undefined {
    const v = this.first();
    return v === null || v === undefined || v === '' ? undefined : v;
  }
  text(): string | undefined {
    if (this.isEmpty) return undefined;
    const t = this.whole();
    return t === '' ? undefined : t;
  }
  child(n: number): V2Node {
    return this.parts(n);
  }
}

export function repetitionNode(segment: Hl7Segment, field: number, repetition: number, location: string): V2Node {
  const rep = segment.field(field).repetition(repetition);
  const d = segment.ctx.d;
  return new CompositeNode(
    (c) => {
      const comp = rep.component(c);
      return new CompositeNode(
        (s) => new LeafNode(comp.subcomponent(s), `${location}.${c}.${s}`),
        () => comp.subcomponent(1),
        () => comp.text(d.subcomponent),
        comp.raw,
        `${location}.${c}`,
      );
    },
    () => rep.get(1, 1),
    () =>
      rep
        .components()
        .map((c) => c.text(d.subcomponent))
        .join(d.component)
        .replace(new RegExp(`\\${d.component}+$`), ''),
    rep.raw,
    location,
  );
}

/** A constant as a node (for values that come from the context rather than the message). */
export function textNode(text: string | undefined, location: string): V2Node {
  return new LeafNode(text, location);
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
}

export function segmentLabel(s: SourceSegment): string {
  return `${s.name}[${s.sequence}]`;
}

const repetitionCache = new WeakMap<SourceSegment, Map<number, V2Node[]>>();

/** All repetitions of field `n` of a segment as nodes (none when the field is empty); split once per segment. */
export function fieldRepetitions(s: SourceSegment, field: number): V2Node[] {
  let cache = repetitionCache.get(s);
  if (!cache) repetitionCache.set(s, (cache = new Map()));
  let nodes = cache.get(field);
  if (!nodes) cache.set(field, (nodes = splitField(s, field)));
  return nodes;
}

function splitField(s: SourceSegment, field: number): V2Node[] {
  const f = s.segment.field(field);
  if (f.isEmpty) return [];
  const count = f.isNull ? 1 : f.repetitions().length;
  const out: V2Node[] = [];
  for (let r = 1; r <= count; r++)
    out.push(repetitionNode(s.segment, field, r, `${segmentLabel(s)}-${field}${count > 1 ? `[${r}]` : ''}`));
  return out;
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
