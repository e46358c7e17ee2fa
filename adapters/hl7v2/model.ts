// The message model: segments in order, fields, repetitions, components, subcomponents — read lazily from the
// received bytes, edited in place, serialized with unmodified segments copied byte for byte.
import type { Hl7Charset, Hl7CharsetSource } from './charset.js';
import { decodeBytes, encodeText } from './charset.js';
import type { Hl7Delimiters } from './delimiters.js';
import { escapeValue, unescapeValue } from './delimiters.js';
import type { Hl7Location } from './errors.js';
import { Hl7Error, Hl7ErrorCode } from './errors.js';
import type { Hl7DateTime } from './datatypes.js';
import { parseHl7DateTime, parseHl7Number } from './datatypes.js';
import type { Hl7Header } from './header.js';
import { readHeader } from './header.js';
import type { Hl7Path } from './path.js';
import { parsePath } from './path.js';

/**
 * A value read from a message: the unescaped text; `undefined` when the element is absent or empty; `null` for the
 * HL7 null `""` (the sender says "this value is now empty": delete it).
 */
export type Hl7Value = string | null | undefined;

/** Text to write: `null` writes the HL7 null `""`, `undefined` (or '') leaves the element empty. */
export type Hl7Text = string | null | undefined;
/** A component: its text, or its subcomponents. */
export type Hl7ComponentInput = Hl7Text | readonly Hl7Text[];
/** One repetition of a field: its text, or its components. */
export type Hl7RepetitionInput = Hl7Text | readonly Hl7ComponentInput[];
/** Several repetitions of a field (make one with `repeat(...)`). */
export interface Hl7Repeated {
  readonly repetitions: readonly Hl7RepetitionInput[];
}
/** What a field can be set to. */
export type Hl7FieldInput = Hl7RepetitionInput | Hl7Repeated;

/** Marks a field value as repeated: `seg.setField(3, repeat(['123', '', '', 'HOSP'], ['456']))`. */
export function repeat(...repetitions: Hl7RepetitionInput[]): Hl7Repeated {
  return { repetitions };
}

interface Context {
  readonly d: Hl7Delimiters;
  readonly charset: Hl7Charset;
}

const HEADER_SEGMENTS = new Set(['MSH', 'FHS', 'BHS']);

function nextSeparator(raw: string, from: number, sep: string, alias: string): number {
  const a = raw.indexOf(sep, from);
  if (alias === '') return a;
  const b = raw.indexOf(alias, from);
  return a < 0 ? b : b < 0 ? a : Math.min(a, b);
}

/** The `index`-th (from 1) part of `raw` split on `sep` (and `alias`), '' when absent. */
function part(raw: string, sep: string, index: number, alias = ''): string {
  if (sep === '') return index === 1 ? raw : '';
  let start = 0;
  for (let k = 1; k < index; k++) {
    const p = nextSeparator(raw, start, sep, alias);
    if (p < 0) return '';
    start = p + 1;
  }
  const end = nextSeparator(raw, start, sep, alias);
  return end < 0 ? raw.slice(start) : raw.slice(start, end);
}

function split(raw: string, sep: string, alias = ''): string[] {
  if (sep === '' || raw === '') return [raw];
  if (alias === '') return raw.split(sep);
  const out: string[] = [];
  let start = 0;
  for (let p = nextSeparator(raw, 0, sep, alias); p >= 0; p = nextSeparator(raw, start, sep, alias)) {
    out.push(raw.slice(start, p));
    start = p + 1;
  }
  out.push(raw.slice(start));
  return out;
}

function leafValue(raw: string, ctx: Context): Hl7Value {
  if (raw === '') return undefined;
  if (raw === '""') return null;
  return unescapeValue(raw, ctx.d, ctx.charset);
}

/** Something with a raw (escaped) text: a field, a repetition or a component. */
abstract class Hl7Element {
  /** @internal */
  protected readonly ctx: Context;
  /** The text as received, separators and escape sequences included. */
  readonly raw: string;

  /** @internal */
  constructor(raw: string, ctx: Context) {
    this.raw = raw;
    this.ctx = ctx;
  }

  /** True when nothing is there (not even the HL7 null). */
  get isEmpty(): boolean {
    return this.raw === '';
  }

  /** True for the HL7 null `""`. */
  get isNull(): boolean {
    return this.raw === '""';
  }

  /** The first leaf (first repetition, component, subcomponent), unescaped. */
  abstract get value(): Hl7Value;

  toString(): string {
    return this.raw;
  }
}

/** A component; its parts are subcomponents. */
export class Hl7Component extends Hl7Element {
  get value(): Hl7Value {
    return leafValue(part(this.raw, this.ctx.d.subcomponent, 1), this.ctx);
  }
  /** Subcomponent `n` (from 1), unescaped. */
  subcomponent(n: number): Hl7Value {
    return leafValue(part(this.raw, this.ctx.d.subcomponent, n), this.ctx);
  }
  /** All subcomponents, unescaped. */
  subcomponents(): Hl7Value[] {
    return split(this.raw, this.ctx.d.subcomponent).map((s) => leafValue(s, this.ctx));
  }
  /** The whole component as text: subcomponents unescaped and joined with `joiner` (default the separator). */
  text(joiner = this.ctx.d.subcomponent): string {
    return split(this.raw, this.ctx.d.subcomponent)
      .map((s) => leafValue(s, this.ctx) ?? '')
      .join(joiner);
  }
}

/** One repetition of a field; its parts are components. */
export class Hl7Repetition extends Hl7Element {
  get value(): Hl7Value {
    const d = this.ctx.d;
    return leafValue(part(part(this.raw, d.component, 1), d.subcomponent, 1), this.ctx);
  }
  /** Component `n` (from 1). */
  component(n: number): Hl7Component {
    return new Hl7Component(part(this.raw, this.ctx.d.component, n), this.ctx);
  }
  /** All components. */
  components(): Hl7Component[] {
    return split(this.raw, this.ctx.d.component).map((c) => new Hl7Component(c, this.ctx));
  }
  /** Leaf `component.subcomponent`, unescaped. */
  get(component: number, subcomponent = 1): Hl7Value {
    const d = this.ctx.d;
    return leafValue(part(part(this.raw, d.component, component), d.subcomponent, subcomponent), this.ctx);
  }
  /** Number of components (1 for a plain value). */
  get componentCount(): number {
    return split(this.raw, this.ctx.d.component).length;
  }
}

/** A field; its parts are repetitions. */
export class Hl7Field extends Hl7Element {
  get value(): Hl7Value {
    const d = this.ctx.d;
    return leafValue(
      part(part(part(this.raw, d.repetition, 1, d.repetitionAlias), d.component, 1), d.subcomponent, 1),
      this.ctx,
    );
  }
  /** Repetition `n` (from 1). */
  repetition(n = 1): Hl7Repetition {
    const d = this.ctx.d;
    return new Hl7Repetition(part(this.raw, d.repetition, n, d.repetitionAlias), this.ctx);
  }
  /** All repetitions (one for a field that does not repeat, none for an empty field). */
  repetitions(): Hl7Repetition[] {
    if (this.raw === '') return [];
    const d = this.ctx.d;
    return split(this.raw, d.repetition, d.repetitionAlias).map((r) => new Hl7Repetition(r, this.ctx));
  }
  /** Component `n` of the first repetition. */
  component(n: number): Hl7Component {
    return this.repetition(1).component(n);
  }
  /** Leaf `component.subcomponent` of the first repetition, unescaped. */
  get(component: number, subcomponent = 1): Hl7Value {
    return this.repetition(1).get(component, subcomponent);
  }
}

/** Where a segment's bytes are in the received input. */
interface SegmentSource {
  readonly bytes: Buffer;
  readonly start: number;
  /** End of the segment's content (its terminator excluded). */
  readonly end: number;
  /** End of the terminator run that follows (= `end` when the segment is the last one and has none). */
  readonly next: number;
  /** The message the segment was read from: it decodes `bytes[start, end)`, sharing one text among segments. */
  readonly owner?: Hl7Message;
}

/** A segment: a name and numbered fields (MSH-1 is the field separator, MSH-2 the encoding characters). */
export class Hl7Segment {
  readonly name: string;
  /** @internal */
  readonly ctx: Context;
  #source: SegmentSource | undefined;
  #text: string | undefined;
  #seps: number[] | undefined;
  #sepsDone = false;
  #fields: string[] | undefined;
  #dirty = false;
  readonly #header: boolean;

  /** @internal — segments come from a parse, `Hl7Message.addSegment` or `createHl7Message`. */
  constructor(name: string, ctx: Context, source: SegmentSource | undefined, fields?: string[]) {
    this.name = name;
    this.ctx = ctx;
    this.#source = source;
    this.#header = HEADER_SEGMENTS.has(name);
    if (fields) {
      this.#fields = fields;
      this.#dirty = true;
    }
  }

  /** The segment as text, escaped, without its terminator. */
  get text(): string {
    if (this.#fields) return this.#fields.join(this.ctx.d.field);
    if (this.#text === undefined) {
      const s = this.#source!;
      this.#text = s.owner
        ? s.owner.decodeSpan(s.start, s.end)
        : decodeBytes(s.bytes, s.start, s.end, this.ctx.charset);
    }
    return this.#text;
  }

  /** True once edited (it is then re-encoded when serialized; an unedited one is copied byte for byte). */
  get isModified(): boolean {
    return this.#dirty;
  }

  /** @internal */
  get source(): SegmentSource | undefined {
    return this.#source;
  }

  /** Positions of the field separators in `text`, found up to the `upTo`-th (all by default) and kept. */
  #separators(upTo = Infinity): number[] {
    let seps = this.#seps;
    if (!seps) {
      seps = [];
      this.#seps = seps;
      this.#sepsDone = false;
    }
    if (!this.#sepsDone && seps.length <= upTo) {
      const text = this.text;
      const fs = this.ctx.d.field;
      let p = seps.length === 0 ? text.indexOf(fs, 3) : text.indexOf(fs, seps[seps.length - 1]! + 1);
      for (; p >= 0; p = text.indexOf(fs, p + 1)) {
        seps.push(p);
        if (seps.length >= upTo + 1) return seps;
      }
      this.#sepsDone = true;
    }
    return seps;
  }

  /** Number of the last field present (trailing empty fields included as sent). */
  get fieldCount(): number {
    if (this.#fields) return this.#fields.length - 1 + (this.#header ? 1 : 0);
    return this.#separators().length + (this.#header ? 1 : 0);
  }

  /** The raw (escaped) text of field `n`; '' when absent. */
  rawField(n: number): string {
    if (this.#header && n === 1) return this.ctx.d.field;
    if (this.#header && n === 2) return this.ctx.d.encodingCharacters;
    const j = this.#header ? n - 1 : n;
    if (j < 1) return '';
    if (this.#fields) return this.#fields[j] ?? '';
    const seps = this.#separators(j);
    if (j > seps.length) return '';
    const text = this.text;
    const start = seps[j - 1]! + 1;
    const end = j < seps.length ? seps[j]! : text.length;
    return text.slice(start, end);
  }

  /** Field `n` (from 1, like `PID-3`). MSH-1 and MSH-2 are returned verbatim, never split nor unescaped. */
  field(n: number): Hl7Field {
    const raw = this.rawField(n);
    if (this.#header && n <= 2) return new Hl7Field(raw, literalContext(this.ctx));
    return new Hl7Field(raw, this.ctx);
  }

  /** All fields from 1 to `fieldCount`. */
  fields(): Hl7Field[] {
    const out: Hl7Field[] = [];
    for (let n = 1, count = this.fieldCount; n <= count; n++) out.push(this.field(n));
    return out;
  }

  /** A value by path relative to this segment (`3`, `3[2].1`, `5.1.1`) or with its own name (`PID-3.1`). */
  get(path: string | Hl7Path): Hl7Value {
    const p = typeof path === 'string' ? parsePath(path) : path;
    if (this.#header && p.field <= 2) {
      return p.repetition === undefined || p.repetition === 1 ? this.rawField(p.field) : undefined;
    }
    const d = this.ctx.d;
    const rep = part(this.rawField(p.field), d.repetition, p.repetition ?? 1, d.repetitionAlias);
    return leafValue(part(part(rep, d.component, p.component ?? 1), d.subcomponent, p.subcomponent ?? 1), this.ctx);
  }

  // ---- editing ----

  #materialize(): string[] {
    if (!this.#fields) {
      const text = this.text;
      const fields = text.split(this.ctx.d.field);
      if (this.#header) fields[1] = this.ctx.d.encodingCharacters;
      this.#fields = fields;
      this.#seps = undefined;
      this.#text = undefined;
    }
    this.#dirty = true;
    return this.#fields;
  }

  #checkWritable(n: number): number {
    if (!Number.isInteger(n) || n < 1) {
      throw new Hl7Error(Hl7ErrorCode.BadInput, `field ${n} of ${this.name} does not exist; fields count from 1`);
    }
    if (this.#header && n <= 2) {
      throw new Hl7Error(
        Hl7ErrorCode.BadInput,
        `${this.name}-${n} holds the separators and cannot be edited; build a new message with other delimiters instead`,
      );
    }
    return this.#header ? n - 1 : n;
  }

  /** Replaces field `n` with a value (escaped here: pass plain text). */
  setField(n: number, value: Hl7FieldInput): this {
    const j = this.#checkWritable(n);
    const fields = this.#materialize();
    while (fields.length <= j) fields.push('');
    fields[j] = encodeField(value, this.ctx.d);
    return this;
  }

  /** Replaces field `n` with text that is already escaped and delimited (no check beyond the field separator). */
  setRawField(n: number, raw: string): this {
    const j = this.#checkWritable(n);
    if (raw.includes(this.ctx.d.field) || /[\r\n]/.test(raw)) {
      throw new Hl7Error(
        Hl7ErrorCode.BadInput,
        `a raw value for ${this.name}-${n} cannot contain the field separator or a line break`,
      );
    }
    const fields = this.#materialize();
    while (fields.length <= j) fields.push('');
    fields[j] = raw;
    return this;
  }

  /**
   * Sets one element by path (`5`, `5.1`, `3[2].4.1`, or `PID-5.1`): the repetition, component and
   * subcomponent are created as needed; `value` is plain text (escaped here), `null` writes `""`.
   */
  set(path: string | Hl7Path, value: Hl7Text): this {
    const p = typeof path === 'string' ? parsePath(path) : path;
    if (p.segment !== undefined && p.segment !== this.name) {
      throw new Hl7Error(Hl7ErrorCode.BadPath, `the path names ${p.segment} but this segment is ${this.name}`);
    }
    if (p.repetition === undefined && p.component === undefined) return this.setField(p.field, value);
    const d = this.ctx.d;
    const escaped = encodeText_(value, d);
    const reps = split(this.rawField(p.field), d.repetition, d.repetitionAlias);
    const r = (p.repetition ?? 1) - 1;
    while (reps.length <= r) reps.push('');
    if (p.component === undefined) {
      reps[r] = escaped;
    } else {
      const comps = split(reps[r]!, d.component);
      const c = p.component - 1;
      while (comps.length <= c) comps.push('');
      if (p.subcomponent === undefined) comps[c] = escaped;
      else {
        const subs = split(comps[c]!, d.subcomponent);
        while (subs.length < p.subcomponent) subs.push('');
        subs[p.subcomponent - 1] = escaped;
        comps[c] = subs.join(d.subcomponent);
      }
      reps[r] = comps.join(d.component);
    }
    const j = this.#checkWritable(p.field);
    const fields = this.#materialize();
    while (fields.length <= j) fields.push('');
    fields[j] = reps.join(d.repetition);
    return this;
  }

  /** The segment as it will be written (escaped text, no terminator). */
  toString(): string {
    return this.text;
  }
}

function encodeText_(value: Hl7Text, d: Hl7Delimiters): string {
  if (value === null) return '""';
  if (value === undefined || value === '') return '';
  return escapeValue(value, d);
}

function encodeComponent(value: Hl7ComponentInput, d: Hl7Delimiters): string {
  if (Array.isArray(value)) return (value as readonly Hl7Text[]).map((s) => encodeText_(s, d)).join(d.subcomponent);
  return encodeText_(value as Hl7Text, d);
}

function encodeRepetition(value: Hl7RepetitionInput, d: Hl7Delimiters): string {
  if (Array.isArray(value))
    return (value as readonly Hl7ComponentInput[]).map((c) => encodeComponent(c, d)).join(d.component);
  return encodeText_(value as Hl7Text, d);
}

/** @internal Encodes a field input to its raw text. */
export function encodeField(value: Hl7FieldInput, d: Hl7Delimiters): string {
  if (value !== null && typeof value === 'object' && 'repetitions' in value) {
    return value.repetitions.map((r) => encodeRepetition(r, d)).join(d.repetition);
  }
  return encodeRepetition(value as Hl7RepetitionInput, d);
}

/** MSH-2 in `charset`; U+02DC, which Latin-1 cannot hold, is written in UTF-8 as the senders that use it do. */
function encodeEncodingCharacters(chars: string, charset: Hl7Charset): Buffer {
  try {
    return encodeText(chars, charset);
  } catch {
    return Buffer.from(chars, 'utf8');
  }
}

const literalContexts = new WeakMap<Context, Context>();
function literalContext(ctx: Context): Context {
  let lit = literalContexts.get(ctx);
  if (!lit) {
    const d = ctx.d;
    lit = {
      charset: ctx.charset,
      d: { ...d, component: '', repetition: '', escape: '', subcomponent: '', truncation: '', repetitionAlias: '' },
    };
    literalContexts.set(ctx, lit);
  }
  return lit;
}

/** @internal What the parser hands to the message. */
export interface ParsedSpans {
  readonly bytes: Buffer;
  /** Where the message begins in `bytes` (a BOM or blank lines may come first, up to the first segment). */
  readonly begin: number;
  /** Where it ends (after the terminators of its last segment). */
  readonly finish: number;
  readonly starts: number[];
  readonly ends: number[];
  readonly names: number[];
  /** Every byte below 0x80. */
  readonly ascii: boolean;
}

const names = new Map<number, string>();
function nameOf(code: number): string {
  let name = names.get(code);
  if (name === undefined) {
    name = String.fromCharCode(code >>> 16, (code >>> 8) & 0xff, code & 0xff);
    if (names.size < 4096) names.set(code, name);
  }
  return name;
}
function codeOf(name: string): number {
  return (name.charCodeAt(0) << 16) | (name.charCodeAt(1) << 8) | name.charCodeAt(2);
}

/** An HL7 v2 message. Build one with `createHl7Message`, read one with `parseHl7Message`. */
export class Hl7Message {
  readonly delimiters: Hl7Delimiters;
  readonly charset: Hl7Charset;
  /** How `charset` was chosen: MSH-18, a BOM, the configured default, or detection (`auto`). */
  readonly charsetSource: Hl7CharsetSource;
  /** Terminator written after new or edited segments that had none (`\r`, as the standard says, by default). */
  segmentTerminator: string;
  /** @internal */
  readonly ctx: Context;
  #spans: ParsedSpans | undefined;
  #segs: (Hl7Segment | undefined)[];
  #names: number[];
  #structureEdited = false;
  readonly #msh2Bytes: Buffer;
  #whole: string | undefined;
  /**
   * Segment text from the message bytes. Single-byte charsets (and pure ASCII) decode the whole message once and
   * hand out slices of it (one native call instead of one per segment); UTF-8 decodes segment by segment.
   */
  /** @internal */
  decodeSpan(start: number, end: number): string {
    const s = this.#spans!;
    if (this.charset === 'UNICODE UTF-8' && !s.ascii) return s.bytes.toString('utf8', start, end);
    if (this.#whole === undefined)
      this.#whole = decodeBytes(s.bytes, s.begin, s.finish, s.ascii ? 'ASCII' : this.charset);
    return this.#whole.slice(start - s.begin, end - s.begin);
  }

  /** @internal */
  constructor(init: {
    delimiters: Hl7Delimiters;
    charset: Hl7Charset;
    charsetSource: Hl7CharsetSource;
    spans?: ParsedSpans;
    segmentTerminator?: string;
    /** MSH-2 exactly as received (it may hold U+02DC in UTF-8 inside a Latin-1 message). */
    msh2Bytes?: Buffer;
  }) {
    this.delimiters = init.delimiters;
    this.charset = init.charset;
    this.charsetSource = init.charsetSource;
    this.ctx = { d: init.delimiters, charset: init.charset };
    this.#spans = init.spans;
    this.#names = init.spans ? init.spans.names : [];
    this.#segs = new Array<Hl7Segment | undefined>(this.#names.length);
    this.segmentTerminator = init.segmentTerminator ?? '\r';
    this.#msh2Bytes = init.msh2Bytes ?? encodeEncodingCharacters(init.delimiters.encodingCharacters, init.charset);
  }

  /** MSH-2 as bytes, as received or as it will be written. */
  get encodingCharactersBytes(): Buffer {
    return this.#msh2Bytes;
  }

  #encodeSegment(seg: Hl7Segment): Buffer {
    const text = seg.text;
    // eslint-disable-next-line no-control-regex -- ASCII range test
    if (seg.name === 'MSH' && /[^\x00-\x7f]/.test(this.delimiters.encodingCharacters)) {
      // 'MSH' + MSH-1 + MSH-2 bytes as received + the rest in the message charset.
      const head = 4 + this.delimiters.encodingCharacters.length;
      return Buffer.concat([
        encodeText(text.slice(0, 4), this.charset),
        this.#msh2Bytes,
        encodeText(text.slice(head), this.charset),
      ]);
    }
    return encodeText(text, this.charset);
  }

  /** @internal Installs the MSH of a message built from scratch (fields[0] = 'MSH', fields[1] = MSH-2). */
  initHeader(fields: string[]): void {
    if (this.#names.length > 0) throw new Hl7Error(Hl7ErrorCode.BadInput, 'the message already has its MSH');
    this.#segs.push(new Hl7Segment('MSH', this.ctx, undefined, fields));
    this.#names.push(codeOf('MSH'));
    this.#structureEdited = true;
  }

  /** The MSH essentials: type, control id, version, applications, acknowledgment types… */
  get header(): Hl7Header {
    return readHeader(this);
  }

  /** A DT/DTM/TS value as ISO 8601 with its precision and offset (`HL7_BAD_VALUE` when malformed). */
  getDateTime(path: string): Hl7DateTime | undefined {
    return parseHl7DateTime(this.get(path), this.locate(path));
  }

  /** An NM value as a number (`HL7_BAD_VALUE` when malformed). */
  getNumber(path: string): number | undefined {
    return parseHl7Number(this.get(path), this.locate(path));
  }

  /** Number of segments. */
  get segmentCount(): number {
    return this.#names.length;
  }

  /** The segment at position `index` (from 1: 1 is MSH). */
  segmentAt(index: number): Hl7Segment | undefined {
    const i = index - 1;
    if (i < 0 || i >= this.#names.length) return undefined;
    let seg = this.#segs[i];
    if (!seg) {
      const s = this.#spans!;
      const next = i + 1 < s.starts.length ? s.starts[i + 1]! : s.finish;
      seg = new Hl7Segment(nameOf(this.#names[i]!), this.ctx, {
        bytes: s.bytes,
        start: s.starts[i]!,
        end: s.ends[i]!,
        next,
        owner: this,
      });
      this.#segs[i] = seg;
    }
    return seg;
  }

  /** Segment names in order (`['MSH', 'EVN', 'PID', …]`). */
  segmentNames(): string[] {
    return this.#names.map(nameOf);
  }

  /** All segments in order, or those with `name` (`segments('OBX')`). Z-segments included. */
  segments(name?: string): Hl7Segment[] {
    const out: Hl7Segment[] = [];
    const want = name === undefined ? -1 : codeOf(name);
    for (let i = 0; i < this.#names.length; i++)
      if (want < 0 || this.#names[i] === want) out.push(this.segmentAt(i + 1)!);
    return out;
  }

  /** The `sequence`-th (from 1) segment called `name`. */
  segment(name: string, sequence = 1): Hl7Segment | undefined {
    const index = this.indexOf(name, sequence);
    return index === undefined ? undefined : this.segmentAt(index);
  }

  /** Position (from 1) of the `sequence`-th segment called `name`. */
  indexOf(name: string, sequence = 1): number | undefined {
    if (name.length !== 3) return undefined;
    const want = codeOf(name);
    let seen = 0;
    for (let i = 0; i < this.#names.length; i++) {
      if (this.#names[i] === want && ++seen === sequence) return i + 1;
    }
    return undefined;
  }

  /** The header (MSH) segment. */
  get msh(): Hl7Segment {
    return this.segmentAt(1)!;
  }

  /**
   * A value by path: `PID-3` (the first leaf of the first repetition, unescaped), `PID-3[2].1`, `PID-5.1.1`,
   * `OBX[2]-5`. Returns undefined when absent, null for the HL7 null `""`.
   */
  get(path: string): Hl7Value {
    const p = parsePath(path);
    const seg = this.#segmentFor(p, path);
    return seg ? seg.get(p) : undefined;
  }

  /**
   * Every value a path reaches: all segments of that name unless one is chosen (`OBX[2]-5`), all repetitions
   * unless one is chosen (`PID-3[1].1`). Order: segment by segment, repetition by repetition; empty ones included
   * (as undefined) so positions line up.
   */
  getAll(path: string): Hl7Value[] {
    const p = parsePath(path);
    const segs = this.#segmentsFor(p, path);
    const out: Hl7Value[] = [];
    for (const seg of segs) {
      if (p.repetition !== undefined) {
        out.push(seg.get(p));
        continue;
      }
      // One split of the field, then each repetition's leaf (linear in the field's length).
      for (const rep of seg.field(p.field).repetitions()) out.push(rep.get(p.component ?? 1, p.subcomponent ?? 1));
    }
    return out;
  }

  /** The field a path names (its repetition and component parts are ignored). */
  field(path: string): Hl7Field | undefined {
    const p = parsePath(path);
    return this.#segmentFor(p, path)?.field(p.field);
  }

  /** Repetitions of the field a path names (`repetitions('PID-3')`), or the one it names (`PID-3[2]`). */
  repetitions(path: string): Hl7Repetition[] {
    const p = parsePath(path);
    const field = this.#segmentFor(p, path)?.field(p.field);
    if (!field) return [];
    if (p.repetition !== undefined) return field.isEmpty ? [] : [field.repetition(p.repetition)];
    return field.repetitions();
  }

  /** Where a path is, in the form ERR segments want. */
  locate(path: string): Hl7Location {
    const p = parsePath(path);
    if (!p.segment) throw new Hl7Error(Hl7ErrorCode.BadPath, `"${path}" has no segment name (write e.g. PID-3)`);
    const loc: Hl7Location = {
      segmentName: p.segment,
      segmentSequence: p.segmentSequence ?? 1,
      field: p.field,
    };
    const index = this.indexOf(p.segment, p.segmentSequence ?? 1);
    if (index !== undefined) loc.segmentIndex = index;
    if (p.repetition !== undefined) loc.repetition = p.repetition;
    if (p.component !== undefined) loc.component = p.component;
    if (p.subcomponent !== undefined) loc.subcomponent = p.subcomponent;
    return loc;
  }

  #segmentFor(p: Hl7Path, path: string): Hl7Segment | undefined {
    if (!p.segment) throw new Hl7Error(Hl7ErrorCode.BadPath, `"${path}" has no segment name (write e.g. PID-3)`);
    return this.segment(p.segment, p.segmentSequence ?? 1);
  }

  #segmentsFor(p: Hl7Path, path: string): Hl7Segment[] {
    if (!p.segment) throw new Hl7Error(Hl7ErrorCode.BadPath, `"${path}" has no segment name (write e.g. PID-3)`);
    if (p.segmentSequence !== undefined) {
      const seg = this.segment(p.segment, p.segmentSequence);
      return seg ? [seg] : [];
    }
    return this.segments(p.segment);
  }

  // ---- editing ----

  /** Sets one element by path (see `Hl7Segment.set`); the segment must exist (add it with `addSegment`). */
  set(path: string, value: Hl7Text): this {
    const p = parsePath(path);
    const seg = this.#segmentFor(p, path);
    if (!seg) {
      throw new Hl7Error(
        Hl7ErrorCode.BadInput,
        `the message has no ${p.segment}${p.segmentSequence ? `[${p.segmentSequence}]` : ''} segment to set ${path} in; add it with addSegment first`,
      );
    }
    seg.set(p, value);
    return this;
  }

  #materializeAll(): void {
    if (this.#structureEdited) return;
    for (let i = 0; i < this.#names.length; i++) this.segmentAt(i + 1);
    this.#structureEdited = true;
  }

  /**
   * Adds a segment: `fields[0]` is field 1. Inserted before position `before` (from 1) when given, else appended.
   * Returns it, ready for more edits.
   */
  addSegment(name: string, fields: readonly Hl7FieldInput[] = [], before?: number): Hl7Segment {
    if (!/^[A-Z][A-Z0-9]{2}$/.test(name)) {
      throw new Hl7Error(
        Hl7ErrorCode.BadInput,
        `"${name}" is not a segment name: three upper-case letters or digits, starting with a letter`,
      );
    }
    if (HEADER_SEGMENTS.has(name)) {
      throw new Hl7Error(
        Hl7ErrorCode.BadInput,
        `a message has one ${name}, its first segment; build a new message with createHl7Message`,
      );
    }
    const seg = new Hl7Segment(name, this.ctx, undefined, [
      name,
      ...fields.map((f) => encodeField(f, this.delimiters)),
    ]);
    this.#materializeAll();
    const at = before === undefined ? this.#names.length : Math.min(Math.max(before - 1, 1), this.#names.length);
    this.#segs.splice(at, 0, seg);
    this.#names.splice(at, 0, codeOf(name));
    return seg;
  }

  /** Removes the segment at `index` (from 1; the MSH cannot be removed). */
  removeSegment(index: number): void {
    if (index === 1) throw new Hl7Error(Hl7ErrorCode.BadInput, 'the MSH segment cannot be removed');
    if (index < 1 || index > this.#names.length) return;
    this.#materializeAll();
    this.#segs.splice(index - 1, 1);
    this.#names.splice(index - 1, 1);
  }

  /** True once anything was edited. */
  get isModified(): boolean {
    if (this.#structureEdited || !this.#spans) return true;
    for (const seg of this.#segs) if (seg?.isModified) return true;
    return false;
  }

  /**
   * The message as bytes in its charset. A parsed message that was not edited gives back exactly the bytes it was
   * read from; edited segments are re-encoded, the others copied byte for byte with their original terminators.
   */
  toBuffer(): Buffer {
    const spans = this.#spans;
    if (spans && !this.isModified) return spans.bytes.subarray(spans.begin, spans.finish);
    const parts: Buffer[] = [];
    const term = encodeText(this.segmentTerminator, this.charset);
    if (spans && spans.starts.length > 0 && spans.starts[0]! > spans.begin)
      parts.push(spans.bytes.subarray(spans.begin, spans.starts[0]));
    const count = this.#names.length;
    for (let i = 0; i < count; i++) {
      const seg = this.#segs[i];
      const last = i === count - 1;
      let src: SegmentSource | undefined;
      if (!seg) {
        const next = i + 1 < spans!.starts.length ? spans!.starts[i + 1]! : spans!.finish;
        src = { bytes: spans!.bytes, start: spans!.starts[i]!, end: spans!.ends[i]!, next };
      } else src = seg.source;
      if (seg && (seg.isModified || !src)) {
        parts.push(this.#encodeSegment(seg));
        if (src && src.next > src.end) parts.push(src.bytes.subarray(src.end, src.next));
        else if (!last) parts.push(term);
      } else {
        parts.push(src!.bytes.subarray(src!.start, src!.next));
        if (!last && src!.next === src!.end) parts.push(term);
      }
    }
    return Buffer.concat(parts);
  }

  /** The message as text (escaped, with its terminators); for display — use `toBuffer()` to send it. */
  toString(): string {
    const spans = this.#spans;
    if (spans && !this.isModified) return decodeBytes(spans.bytes, spans.begin, spans.finish, this.charset);
    let out = '';
    for (let i = 1; i <= this.#names.length; i++) out += this.segmentAt(i)!.text + this.segmentTerminator;
    return out;
  }
}
