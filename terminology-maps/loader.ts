// Loads a code system the hub cannot ship (CIM-10 from ATIH, CCAM from the CNAM) from a file the user obtained:
// CSV/TSV with a code column and a label column (the separator is detected), into the terminology_concepts table.
// $lookup then answers for it; mappings reference CIM-10/CCAM codes through ConceptMaps (codes only are shipped).
import { readFileSync } from 'node:fs';
import type { Migration, SqlClient } from '../store/sql/sql-client.js';
import { parseCsv } from './csv.js';
import type { TerminologySystems } from './terminology.js';

export const terminologyMigrations: Migration[] = [
  {
    id: 'terminology-0001-concepts',
    sql: `CREATE TABLE IF NOT EXISTS terminology_concepts (
      system text NOT NULL,
      code text NOT NULL,
      display text,
      version text,
      loaded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (system, code)
    );`,
  },
];

export const LoadableSystem = { Cim10: 'cim10', Ccam: 'ccam' } as const;
export type LoadableSystem = (typeof LoadableSystem)[keyof typeof LoadableSystem];

export class LoadError extends Error {
  constructor(
    readonly code: 'TERMINOLOGY_LOAD_FILE' | 'TERMINOLOGY_LOAD_FORMAT' | 'TERMINOLOGY_LOAD_EMPTY',
    message: string,
  ) {
    super(message);
    this.name = 'LoadError';
  }
}

export interface LoadOptions {
  /** 1-based column of the code (default: detected: the first column that looks like a code). */
  codeColumn?: number;
  /** 1-based column of the label (default: the column after the code). */
  displayColumn?: number;
  separator?: string;
  version?: string;
  /** Text encoding of the file; ATIH files are often Latin-1 (default: UTF-8 when valid, else latin1). */
  encoding?: 'utf8' | 'latin1';
}

const CODE_PATTERN: Record<LoadableSystem, RegExp> = {
  // CIM-10: a letter, two digits, an optional dot and up to 4 characters (A00, A00.0, E11.9, U07.1, S72.00+1)
  cim10: /^[A-Z][0-9]{2}(?:\.?[0-9A-Z+*]{0,4})?$/,
  // CCAM: four letters and three digits (e.g. YYYY001, AHQB002), optionally a phase/activity suffix
  ccam: /^[A-Z]{4}[0-9]{3}(?:[-.\s]?[0-9]{1,3})?$/,
};

function decode(bytes: Buffer, encoding: LoadOptions['encoding']): string {
  if (encoding) return bytes.toString(encoding);
  const utf8 = bytes.toString('utf8');
  return utf8.includes('\uFFFD') ? bytes.toString('latin1') : utf8;
}

/** Parses the file into concepts; throws a LoadError that says what to change when it is not usable. */
export function parseCodeSystemFile(kind: LoadableSystem, bytes: Buffer, options: LoadOptions = {}): { code: string; display: string }[] {
  const text = decode(bytes, options.encoding);
  const firstLine = text.slice(0, text.indexOf('\n') >= 0 ? text.indexOf('\n') : text.length);
  const separator = options.separator ?? ([';', '\t', '|', ','].map((s) => [s, firstLine.split(s).length] as const).sort((a, b) => b[1] - a[1])[0]![0]);
  const rows = parseCsv(text, separator).filter((r) => r.some((c) => c.trim() !== ''));
  if (rows.length === 0) throw new LoadError('TERMINOLOGY_LOAD_EMPTY', 'The file has no rows.');
  const pattern = CODE_PATTERN[kind];
  let codeIndex = options.codeColumn !== undefined ? options.codeColumn - 1 : -1;
  if (codeIndex < 0) {
    const sample = rows.slice(0, 50);
    const columns = Math.max(...sample.map((r) => r.length));
    for (let c = 0; c < columns && codeIndex < 0; c++) {
      const hits = sample.filter((r) => pattern.test((r[c] ?? '').trim().toUpperCase())).length;
      if (hits >= Math.max(1, Math.floor(sample.length / 2))) codeIndex = c;
    }
  }
  if (codeIndex < 0) {
    throw new LoadError(
      'TERMINOLOGY_LOAD_FORMAT',
      `No column of the first rows looks like ${kind === 'cim10' ? 'CIM-10 codes (A00, E11.9)' : 'CCAM codes (AHQB002)'}. Give it with --code-column N (and --display-column M), or check the separator (found "${separator === '\t' ? 'TAB' : separator}").`,
    );
  }
  const displayIndex = options.displayColumn !== undefined ? options.displayColumn - 1 : codeIndex + 1;
  const out = new Map<string, string>();
  for (const row of rows) {
    const code = (row[codeIndex] ?? '').trim().toUpperCase();
    if (!pattern.test(code)) continue; // headers, chapter titles, blank lines
    const display = (row[displayIndex] ?? '').trim();
    out.set(kind === 'cim10' && /^[A-Z][0-9]{3,}/.test(code) && !code.includes('.') ? `${code.slice(0, 3)}.${code.slice(3)}` : code, display);
  }
  if (out.size === 0) throw new LoadError('TERMINOLOGY_LOAD_EMPTY', `No ${kind} code found in column ${codeIndex + 1}.`);
  return [...out].map(([code, display]) => ({ code, display }));
}

/** Loads (replaces) the concepts of one system; returns how many rows were written. */
export async function loadCodeSystem(sql: SqlClient, systems: TerminologySystems, kind: LoadableSystem, file: string, options: LoadOptions = {}): Promise<number> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new LoadError('TERMINOLOGY_LOAD_FILE', `Cannot read ${file}: ${(error as Error).message}`);
  }
  const concepts = parseCodeSystemFile(kind, bytes, options);
  const system = kind === 'cim10' ? systems.cim10 : systems.ccam;
  await sql.transaction(async (tx) => {
    await tx.query('DELETE FROM terminology_concepts WHERE system = $1', [system]);
    for (let i = 0; i < concepts.length; i += 500) {
      const batch = concepts.slice(i, i + 500);
      const values: unknown[] = [];
      const rows = batch.map((c, j) => {
        values.push(system, c.code, c.display || null, options.version ?? null);
        return `($${j * 4 + 1}, $${j * 4 + 2}, $${j * 4 + 3}, $${j * 4 + 4})`;
      });
      await tx.query(`INSERT INTO terminology_concepts (system, code, display, version) VALUES ${rows.join(', ')}`, values);
    }
  });
  return concepts.length;
}
