// FHIRPath for templates, compiled once into closures. The expression is parsed by @medplum/core (its parser is
// the reference: same grammar, same literals, same errors) and its syntax tree is turned into closures that do
// what medplum's atoms do, without their per-call overhead: property access goes through a per-type cache of the
// R4 element definitions (choice types resolved once), collections are built with plain loops, and the functions
// templates use (empty, exists, ofType, where, select, iif, string functions, toDecimal, join…) are implemented
// here with medplum's semantics. Any atom or function not listed is evaluated by medplum itself, so an expression
// always gives what `evalFhirPathTyped` would give — mappings/engine/fast-fhirpath.test.ts checks that on every
// expression of the shipped templates.
import {
  AndAtom,
  ArithemticOperatorAtom,
  ConcatAtom,
  DotAtom,
  EmptySetAtom,
  EqualsAtom,
  FunctionAtom,
  LiteralAtom,
  NotEqualsAtom,
  OrAtom,
  SymbolAtom,
  booleanToTypedValue,
  capitalize,
  fhirPathArrayEquals,
  fhirPathArrayNotEquals,
  getElementDefinition,
  getTypedPropertyValue,
  isEmpty,
  isQuantity,
  isResource,
  singleton,
  toJsBoolean,
  toTypedValue,
  type Atom,
  type AtomContext,
  type FhirPathAtom,
  type TypedValue,
} from '@medplum/core';

type Eval = (context: AtomContext, input: TypedValue[]) => TypedValue[];

const EMPTY: TypedValue[] = [];
const TRUE = booleanToTypedValue(true);
const FALSE = booleanToTypedValue(false);
const bool = (b: boolean): TypedValue[] => (b ? TRUE : FALSE);

/** A compiled expression: evaluates like `evalFhirPathTyped(atom, input, variables)`. */
export type CompiledFhirPath = (input: TypedValue[], variables: Record<string, TypedValue>) => TypedValue[];

export function compileFhirPath(atom: FhirPathAtom): CompiledFhirPath {
  const child = compileAtom(atom.child);
  const original = atom.original;
  return (input, variables) => {
    const context: AtomContext = { variables };
    let result: TypedValue[];
    try {
      // FhirPathAtom.eval: each input element is $this of its own evaluation.
      if (input.length === 1) result = child({ parent: context, variables: { $this: input[0]! } }, input);
      else if (input.length > 0) {
        result = [];
        for (const e of input) for (const r of child({ parent: context, variables: { $this: e } }, [e])) result.push(r);
      } else result = child(context, []);
    } catch (error) {
      throw new Error(`FhirPathError on "${original}": ${error}`, { cause: error });
    }
    const out: TypedValue[] = new Array(result.length);
    for (let i = 0; i < result.length; i++) out[i] = { type: result[i]!.type, value: result[i]!.value?.valueOf() };
    return out;
  };
}

function compileAtom(atom: Atom): Eval {
  if (atom instanceof LiteralAtom) {
    const value = [atom.value];
    return () => value;
  }
  if (atom instanceof EmptySetAtom) return () => EMPTY;
  if (atom instanceof SymbolAtom) return compileSymbol(atom.name);
  if (atom instanceof DotAtom) {
    const left = compileAtom(atom.left);
    const right = compileAtom(atom.right);
    return (context, input) => right(context, left(context, input));
  }
  if (atom instanceof FunctionAtom) return compileFunction(atom);
  if (atom instanceof ArithemticOperatorAtom) {
    const left = compileAtom(atom.left);
    const right = compileAtom(atom.right);
    const impl = atom.impl;
    return (context, input) => {
      const l = left(context, input);
      if (l.length !== 1) return EMPTY;
      const r = right(context, input);
      if (r.length !== 1) return EMPTY;
      const leftValue = l[0]!.value;
      const rightValue = r[0]!.value;
      const result = impl(
        isQuantity(leftValue) ? leftValue.value! : leftValue,
        isQuantity(rightValue) ? rightValue.value! : rightValue,
      );
      if (typeof result === 'boolean') return booleanToTypedValue(result);
      if (isQuantity(leftValue)) return [{ type: 'Quantity', value: { ...leftValue, value: result } }];
      return [toTypedValue(result)];
    };
  }
  if (atom instanceof ConcatAtom) {
    const left = compileAtom(atom.left);
    const right = compileAtom(atom.right);
    return (context, input) => {
      const result = [...left(context, input), ...right(context, input)];
      if (result.length > 0 && result.every((e) => typeof e.value === 'string'))
        return [{ type: 'string', value: result.map((e) => e.value as string).join('') }];
      return result;
    };
  }
  if (atom instanceof EqualsAtom || atom instanceof NotEqualsAtom) {
    const left = compileAtom(atom.left);
    const right = compileAtom(atom.right);
    const compare = atom instanceof EqualsAtom ? fhirPathArrayEquals : fhirPathArrayNotEquals;
    return (context, input) => compare(left(context, input), right(context, input));
  }
  if (atom instanceof AndAtom || atom instanceof OrAtom) {
    const left = compileAtom(atom.left);
    const right = compileAtom(atom.right);
    if (atom instanceof AndAtom) {
      return (context, input) => {
        const l = singleton(left(context, input), 'boolean');
        const r = singleton(right(context, input), 'boolean');
        if (l?.value === true && r?.value === true) return TRUE;
        if (l?.value === false || r?.value === false) return FALSE;
        return EMPTY;
      };
    }
    return (context, input) => {
      const l = singleton(left(context, input), 'boolean');
      const r = singleton(right(context, input), 'boolean');
      if (l?.value === false && r?.value === false) return FALSE;
      if (l?.value || r?.value) return TRUE;
      return EMPTY;
    };
  }
  // Anything else: medplum's own evaluation of that atom.
  return (context, input) => atom.eval(context, input);
}

function variable(context: AtomContext | undefined, name: string): TypedValue | undefined {
  for (let c = context; c; c = c.parent) {
    const v = c.variables[name];
    if (v !== undefined) return v;
  }
  return undefined;
}

function compileSymbol(name: string): Eval {
  if (name === '$this') return (_context, input) => input;
  if (name.startsWith('%')) {
    return (context) => {
      const v = variable(context, name);
      if (v) return [v];
      throw new Error(`Undefined variable ${name}`);
    };
  }
  // A plain name is a property: the only variables an expression sees here are %resource, %value and $this.
  let lastType: string | undefined;
  let lastPlan: PropertyPlan | undefined;
  return (_context, input) => {
    let out: TypedValue[] | undefined;
    for (const e of input) {
      const value = e.value;
      if (!value || typeof value !== 'object') continue;
      if (isResource(value, name as never)) {
        (out ??= []).push(e);
        continue;
      }
      if (e.type !== lastType) {
        lastPlan = planFor(e.type, name);
        lastType = lastPlan ? e.type : undefined;
      }
      const got = lastPlan ? property(e, name, lastPlan) : getTypedPropertyValue(e, name);
      if (got === undefined) continue;
      if (Array.isArray(got)) {
        for (const g of got) if (g?.value !== undefined) (out ??= []).push(g);
      } else if (got.value !== undefined) (out ??= []).push(got);
    }
    return out ?? EMPTY;
  };
}

// ---- property access ------------------------------------------------------------------------------------------

interface PropertyPlan {
  /** JSON keys to try in order (`valueQuantity`, `valueCodeableConcept`… for a choice), with their type codes. */
  keys: string[];
  extensionKeys: string[];
  types: string[];
  /** Type given to Element/BackboneElement results (the element's first type code). */
  elementType: string;
}

const plans = new Map<string, PropertyPlan>();

function planFor(type: string, name: string): PropertyPlan | undefined {
  const cacheKey = `${type}\u0000${name}`;
  const hit = plans.get(cacheKey);
  if (hit) return hit;
  const element = getElementDefinition(type, name);
  if (!element?.type || element.type.length === 0) return undefined;
  const last = element.path.substring(element.path.lastIndexOf('.') + 1);
  const plan: PropertyPlan = { keys: [], extensionKeys: [], types: [], elementType: element.type[0]!.code };
  for (const t of element.type) {
    const key = last.replace('[x]', capitalize(t.code));
    plan.keys.push(key);
    plan.extensionKeys.push(`_${key}`);
    plan.types.push(t.code);
  }
  plans.set(cacheKey, plan);
  return plan;
}

/** getTypedPropertyValue with a cached plan; primitive extensions are left to medplum. */
function property(input: TypedValue, name: string, plan: PropertyPlan): TypedValue[] | TypedValue | undefined {
  const value = input.value as Record<string, unknown>;
  for (let i = 0; i < plan.keys.length; i++) {
    const result = value[plan.keys[i]!];
    if (value[plan.extensionKeys[i]!] !== undefined) return getTypedPropertyValue(input, name);
    if (result === undefined) continue;
    if (isEmpty(result)) return undefined;
    let type = plan.types[i]!;
    if (type === 'Element' || type === 'BackboneElement') type = plan.elementType;
    if (Array.isArray(result)) {
      const out: TypedValue[] = new Array(result.length);
      for (let j = 0; j < result.length; j++) out[j] = typed(result[j], type);
      return out;
    }
    return typed(result, type);
  }
  return undefined;
}

function typed(value: unknown, type: string): TypedValue {
  if (type === 'Resource' && isResource(value)) return { type: value.resourceType, value };
  return { type, value };
}

// ---- functions --------------------------------------------------------------------------------------------------

function validateInput(input: TypedValue[], count: number): TypedValue[] {
  if (input.length !== count) throw new Error(`Expected ${count} arguments`);
  for (const element of input)
    if (element === null || element === undefined) throw new Error('Expected non-null argument');
  return input;
}

/** medplum's applyStringFunc: one string in, arguments evaluated on the same input. */
function stringFunction(fn: (str: string, ...args: unknown[]) => unknown, args: Eval[]): Eval {
  return (context, input) => {
    if (input.length === 0) return EMPTY;
    const [{ value }] = validateInput(input, 1) as [TypedValue];
    if (typeof value !== 'string') throw new Error('String function cannot be called with non-string');
    const values = args.map((a) => a(context, input)[0]?.value);
    const result = fn(value, ...values);
    if (result === undefined) return EMPTY;
    if (Array.isArray(result)) return result.map(toTypedValue);
    return [toTypedValue(result)];
  };
}

function rootInput(context: AtomContext): TypedValue[] {
  let last = context;
  while (last.parent?.variables.$this) last = last.parent;
  return [last.variables.$this!];
}

const regexes = new Map<string, RegExp>();
function regex(source: string): RegExp {
  let re = regexes.get(source);
  if (!re) {
    re = new RegExp(source);
    if (regexes.size < 1000) regexes.set(source, re);
  }
  return re;
}

function compileFunction(atom: FunctionAtom): Eval {
  const fallback: Eval = (context, input) => atom.eval(context, input);
  const args = atom.args.map(compileAtom);
  const [a0, a1, a2] = args;
  switch (atom.name) {
    case 'empty':
      return (_context, input) => {
        if (input.length === 0) return TRUE;
        for (const e of input) if (!isEmpty(e.value)) return FALSE;
        return TRUE;
      };
    case 'exists':
      if (a0) return (context, input) => bool(input.filter((e) => toJsBoolean(a0(context, [e]))).length > 0);
      return (_context, input) => {
        if (input.length === 0) return FALSE;
        for (const e of input) if (isEmpty(e.value)) return FALSE;
        return TRUE;
      };
    case 'not':
      return fallback;
    case 'ofType': {
      const typeAtom = atom.args[0];
      if (!(typeAtom instanceof SymbolAtom)) return fallback;
      const typeName = typeAtom.name;
      return (_context, input) => {
        let out: TypedValue[] | undefined;
        for (const e of input) if (e.type === typeName) (out ??= []).push(e);
        return out ?? EMPTY;
      };
    }
    case 'where':
      if (!a0) return fallback;
      return (context, input) => {
        let out: TypedValue[] | undefined;
        for (const e of input) if (toJsBoolean(a0(context, [e]))) (out ??= []).push(e);
        return out ?? EMPTY;
      };
    case 'select':
      if (!a0) return fallback;
      return (context, input) => {
        const out: TypedValue[] = [];
        for (const e of input) for (const r of a0({ parent: context, variables: { $this: e } }, [e])) out.push(r);
        return out;
      };
    case 'iif':
      if (!a0 || !a1) return fallback;
      return (context, input) => {
        const result = a0(context, input);
        if (result.length > 1 || (result.length === 1 && typeof result[0]!.value !== 'boolean'))
          throw new Error('Expected criterion to evaluate to a Boolean');
        if (toJsBoolean(result)) return a1(context, input);
        if (a2) return a2(context, input);
        return EMPTY;
      };
    case 'lower':
      return stringFunction((str) => str.toLowerCase(), []);
    case 'upper':
      return stringFunction((str) => str.toUpperCase(), []);
    case 'contains':
      if (!a0) return fallback;
      return stringFunction((str, sub) => str.includes(sub as string), [a0]);
    case 'startsWith':
      if (!a0) return fallback;
      return stringFunction((str, prefix) => str.startsWith(prefix as string), [a0]);
    case 'matches':
      if (!a0) return fallback;
      return stringFunction((str, source) => !!regex(source as string).exec(str), [a0]);
    case 'replace':
      if (!a0 || !a1) return fallback;
      return stringFunction(
        (str, pattern, substitution) => str.replaceAll(pattern as string, substitution as string),
        [a0, a1],
      );
    case 'indexOf':
      if (!a0) return fallback;
      return stringFunction((str, sub) => str.indexOf(sub as string), [a0]);
    case 'substring':
      if (!a0) return fallback;
      return stringFunction(
        (str, start, length) => {
          const startIndex = start as number;
          const endIndex = length ? startIndex + (length as number) : str.length;
          return startIndex < 0 || startIndex >= str.length ? undefined : str.substring(startIndex, endIndex);
        },
        a1 ? [a0, a1] : [a0],
      );
    case 'toDecimal':
      return (_context, input) => {
        if (input.length === 0) return EMPTY;
        const [{ value }] = validateInput(input, 1) as [TypedValue];
        if (typeof value === 'number') return [{ type: 'decimal', value }];
        if (typeof value === 'string' && /^-?\d{1,9}(\.\d{1,9})?$/.exec(value))
          return [{ type: 'decimal', value: parseFloat(value) }];
        if (typeof value === 'boolean') return [{ type: 'decimal', value: value ? 1 : 0 }];
        return EMPTY;
      };
    case 'join':
      return (context, input) => {
        const separator = a0 ? (a0(context, rootInput(context))[0]?.value ?? '') : '';
        if (typeof separator !== 'string') throw new Error('Separator must be a string.');
        return [
          {
            type: 'string',
            value: input.map((i) => (i.value as { toString(): string } | undefined)?.toString() ?? '').join(separator),
          },
        ];
      };
    default:
      return fallback;
  }
}
