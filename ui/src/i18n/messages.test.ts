import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { messages, type MessageKey } from './messages.js';

function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('interface words', () => {
  it('exist in French and English with the same placeholders, none empty', () => {
    const keys = Object.keys(messages.fr) as MessageKey[];
    expect(Object.keys(messages.en).sort()).toEqual([...keys].sort());
    for (const key of keys) {
      expect(messages.fr[key].trim(), key).not.toBe('');
      expect(messages.en[key].trim(), key).not.toBe('');
      expect(placeholders(messages.en[key]), key).toEqual(placeholders(messages.fr[key]));
    }
  });

  it('are all used somewhere (no dead keys) — literal keys or the prefix of a computed one', () => {
    const code = sources(join(import.meta.dirname, '..'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const computedPrefixes = [...code.matchAll(/t\(`([a-zA-Z.-]+)\.\$\{/g)].map((m) => `${m[1]}.`);
    const unused = (Object.keys(messages.fr) as MessageKey[]).filter(
      (key) => !code.includes(`'${key}'`) && !computedPrefixes.some((p) => key.startsWith(p)),
    );
    expect(unused).toEqual([]);
  });
});
