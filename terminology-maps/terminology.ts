// Terminology for mappings and the API: FHIR ConceptMaps read from files, UCUM through the NLM UCUM library,
// HL7 v2 table displays from the IG tables, and code systems a user loads (CIM-10, CCAM: see loader.ts).
// Pure lookups in memory: the mapper may call them (no I/O after construction).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConceptMap, ConceptMapGroup } from '@medplum/fhirtypes';

/** The system URIs the hub writes; all of them can be overridden (DESIGN.md: keep system URIs configurable). */
export interface TerminologySystems {
  loinc: string;
  snomed: string;
  ucum: string;
  cim10: string;
  ccam: string;
  /** Prefix of HL7 v2 tables: `${v2Table}0001` = administrative sex. */
  v2Table: string;
}

export const defaultSystems: TerminologySystems = {
  loinc: 'http://loinc.org',
  snomed: 'http://snomed.info/sct',
  ucum: 'http://unitsofmeasure.org',
  cim10: 'https://smt.esante.gouv.fr/terminologie-cim-10/',
  ccam: 'https://smt.esante.gouv.fr/terminologie-ccam/',
  v2Table: 'http://terminology.hl7.org/CodeSystem/v2-',
};

export interface TranslateMatch {
  system?: string;
  code: string;
  display?: string;
  equivalence: string;
  /** ConceptMap url. */
  source: string;
}

export interface Concept {
  system: string;
  code: string;
  display?: string;
  /** Where the concept came from (a ConceptMap, UCUM, a loaded file). */
  origin: string;
}

export class TerminologyError extends Error {
  constructor(
    readonly code: 'TERMINOLOGY_FILE' | 'TERMINOLOGY_DUPLICATE',
    message: string,
  ) {
    super(message);
    this.name = 'TerminologyError';
  }
}

interface UcumUtils {
  validateUnitString(
    unit: string,
    suggest?: boolean,
  ): {
    status: string;
    ucumCode: string | null;
    unit?: { name?: string } | null;
    suggestions?: { units: [string, string][] }[];
  };
}

let ucumUtils: UcumUtils | undefined;
function ucum(): UcumUtils {
  if (!ucumUtils) {
    const require = createRequire(import.meta.url);
    const lib = require('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } };
    ucumUtils = lib.UcumLhcUtils.getInstance();
  }
  return ucumUtils;
}

export const TERMINOLOGY_DIR = dirname(fileURLToPath(import.meta.url));

export interface TerminologyOptions {
  /** Directories of ConceptMap JSON files; default: this folder's hl7v2-tables/, maps/ and local/. */
  directories?: string[];
  /** Extra ConceptMaps (e.g. a site's own), applied after the files (same id replaces). */
  conceptMaps?: ConceptMap[];
  systems?: Partial<TerminologySystems>;
}

function jsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...jsonFiles(path));
    else if (name.endsWith('.json')) out.push(path);
  }
  return out;
}

/** Replaces `{loinc}`-style placeholders in a file's system URIs by the configured ones. */
function resolveSystem(uri: string | undefined, systems: TerminologySystems): string | undefined {
  if (!uri) return uri;
  return uri.replace(/^\{(loinc|snomed|ucum|cim10|ccam)\}$/, (_m, k: keyof TerminologySystems) => systems[k]);
}

export class TerminologyService {
  readonly systems: TerminologySystems;
  private readonly maps = new Map<string, ConceptMap>();
  private readonly byUrl = new Map<string, ConceptMap>();
  /** map id → source code → group matches */
  private readonly index = new Map<
    string,
    Map<string, { group: ConceptMapGroup; source?: string; targets: TranslateMatch[] }[]>
  >();
  private readonly concepts = new Map<string, Map<string, Concept>>();
  /**
   * Answers already given (a mapping asks the same few units and codes for every OBX): translateOne, toUcum,
   * codingSystemUri, mapSources/mapTargets. Emptied when a ConceptMap is added; bounded. The values are shared:
   * callers read them, never change them.
   */
  private readonly memo = new Map<string, unknown>();

  private remember<T>(key: string, compute: () => T): T {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const value = compute();
    if (this.memo.size >= 50_000) this.memo.clear();
    this.memo.set(key, value);
    return value;
  }

  constructor(options: TerminologyOptions = {}) {
    this.systems = { ...defaultSystems, ...options.systems };
    const dirs = options.directories ?? ['hl7v2-tables', 'maps', 'local'].map((d) => join(TERMINOLOGY_DIR, d));
    for (const dir of dirs) {
      for (const file of jsonFiles(dir)) {
        let map: ConceptMap;
        try {
          map = JSON.parse(readFileSync(file, 'utf8')) as ConceptMap;
        } catch (error) {
          throw new TerminologyError(
            'TERMINOLOGY_FILE',
            `${relative(process.cwd(), file)}: not JSON (${(error as Error).message}); fix the file or remove it.`,
          );
        }
        if (map.resourceType !== 'ConceptMap' || !map.id || !map.url) {
          throw new TerminologyError(
            'TERMINOLOGY_FILE',
            `${relative(process.cwd(), file)}: expected a ConceptMap with an id and a url.`,
          );
        }
        this.addConceptMap(map);
      }
    }
    for (const map of options.conceptMaps ?? []) this.addConceptMap(map);
  }

  addConceptMap(map: ConceptMap): void {
    this.memo.clear();
    const resolved: ConceptMap = {
      ...map,
      group: (map.group ?? []).map(
        (g) =>
          ({
            ...g,
            source: resolveSystem(g.source, this.systems),
            target: resolveSystem(g.target, this.systems),
          }) as ConceptMapGroup,
      ),
    };
    this.maps.set(resolved.id!, resolved);
    this.byUrl.set(resolved.url!, resolved);
    const idx = new Map<string, { group: ConceptMapGroup; source?: string; targets: TranslateMatch[] }[]>();
    for (const group of resolved.group ?? []) {
      for (const element of group.element ?? []) {
        if (!element.code) continue;
        const targets: TranslateMatch[] = (element.target ?? []).map((t) => ({
          ...(group.target ? { system: group.target } : {}),
          code: t.code ?? '',
          ...(t.display ? { display: t.display } : {}),
          equivalence: t.equivalence ?? 'equivalent',
          source: resolved.url!,
        }));
        const list = idx.get(element.code) ?? [];
        list.push({ group, ...(group.source ? { source: group.source } : {}), targets });
        idx.set(element.code, list);
        if (group.source && element.display)
          this.addConcept({
            system: group.source,
            code: element.code,
            display: element.display,
            origin: resolved.url!,
          });
        for (const t of element.target ?? []) {
          if (group.target && t.code && t.display)
            this.addConcept({ system: group.target, code: t.code, display: t.display, origin: resolved.url! });
        }
      }
    }
    this.index.set(resolved.id!, idx);
  }

  private addConcept(concept: Concept): void {
    let m = this.concepts.get(concept.system);
    if (!m) this.concepts.set(concept.system, (m = new Map()));
    if (!m.has(concept.code)) m.set(concept.code, concept);
  }

  /** Adds concepts of a loaded code system (CIM-10, CCAM) for $lookup in this process. */
  addConcepts(concepts: Concept[]): void {
    for (const c of concepts) this.addConcept(c);
  }

  /** `ucum` (units through UCUM) and `v2-coding-system-uri` (table 0396 names → URIs) are built in. */
  hasConceptMap(id: string): boolean {
    return id === 'ucum' || id === 'v2-coding-system-uri' || this.maps.has(id);
  }

  conceptMap(idOrUrl: string): ConceptMap | undefined {
    return this.maps.get(idOrUrl) ?? this.byUrl.get(idOrUrl);
  }

  /** Source systems of a ConceptMap's groups. */
  mapSources(mapId: string): ReadonlySet<string> {
    return this.remember(`sources\u0000${mapId}`, () => this.mapSourcesUncached(mapId));
  }

  private mapSourcesUncached(mapId: string): Set<string> {
    return new Set((this.conceptMap(mapId)?.group ?? []).map((g) => g.source).filter((x): x is string => !!x));
  }

  /** Target systems of a ConceptMap's groups. */
  mapTargets(mapId: string): ReadonlySet<string> {
    return this.remember(`targets\u0000${mapId}`, () => this.mapTargetsUncached(mapId));
  }

  private mapTargetsUncached(mapId: string): Set<string> {
    return new Set((this.conceptMap(mapId)?.group ?? []).map((g) => g.target).filter((x): x is string => !!x));
  }

  conceptMapIds(): string[] {
    return [...this.maps.keys()];
  }

  /**
   * Translates `code` with the ConceptMap `mapId` (its id or url). Returns the matches ("unmatched" ones included,
   * so a caller can tell "known to have no equivalent" from "unknown code"); an empty list when the code is not in the map.
   */
  translate(mapId: string, code: string, sourceSystem?: string): TranslateMatch[] {
    const map = this.conceptMap(mapId);
    if (!map) return [];
    const entries = this.index.get(map.id!)?.get(code) ?? [];
    const fitting = sourceSystem ? entries.filter((e) => !e.source || e.source === sourceSystem) : entries;
    return (fitting.length > 0 ? fitting : entries).flatMap((e) => e.targets);
  }

  /** The first usable (not unmatched) translation, or undefined. */
  translateOne(mapId: string, code: string, sourceSystem?: string): TranslateMatch | undefined {
    if (code.length > 200) return this.translateOneUncached(mapId, code, sourceSystem);
    return this.remember(
      `one\u0000${mapId}\u0000${sourceSystem ?? ''}\u0001${sourceSystem === undefined ? 'u' : 'd'}\u0000${code}`,
      () => this.translateOneUncached(mapId, code, sourceSystem),
    );
  }

  private translateOneUncached(mapId: string, code: string, sourceSystem?: string): TranslateMatch | undefined {
    return this.translate(mapId, code, sourceSystem).find(
      (m) => m.equivalence !== 'unmatched' && m.equivalence !== 'disjoint' && m.code !== '',
    );
  }

  /** Every ConceptMap that knows `code` in `system` (for $translate without a map). */
  translateAny(system: string, code: string, targetSystem?: string): TranslateMatch[] {
    const out: TranslateMatch[] = [];
    for (const [id, idx] of this.index) {
      for (const e of idx.get(code) ?? []) {
        if (e.source !== system) continue;
        for (const t of e.targets) if (!targetSystem || t.system === targetSystem) out.push(t);
      }
      void id;
    }
    return out;
  }

  /**
   * A unit string → UCUM: the units ConceptMap (local spellings such as `mmol/l`, `µmol/L`, `mUI/mL`) first, then
   * the string itself when the UCUM library says it is valid UCUM. Undefined when neither knows it.
   */
  toUcum(unit: string): { code: string; display?: string } | undefined {
    if (unit.length > 200) return this.toUcumUncached(unit);
    return this.remember(`ucum\u0000${unit}`, () => this.toUcumUncached(unit));
  }

  private toUcumUncached(unit: string): { code: string; display?: string } | undefined {
    const text = unit.trim();
    if (text === '') return undefined;
    const mapped = this.translateOne('units-to-ucum', text) ?? this.translateOne('units-to-ucum', text.toLowerCase());
    const candidate = mapped?.code ?? text;
    if (candidate.length > 100 || /\s/.test(candidate)) return undefined; // UCUM has no blanks (and the library would log)
    const result = ucum().validateUnitString(candidate, false);
    if (result.status === 'valid' && result.ucumCode)
      return { code: result.ucumCode, ...(result.unit?.name ? { display: result.unit.name } : {}) };
    return undefined;
  }

  /** The display of a concept, when this hub knows it (never a SNOMED CT description: none ship). */
  lookup(system: string, code: string): Concept | undefined {
    if (system === this.systems.ucum) {
      const result = code.length <= 100 ? ucum().validateUnitString(code, false) : undefined;
      if (result?.status === 'valid' && result.ucumCode === code)
        return {
          system,
          code,
          ...(result.unit?.name ? { display: result.unit.name } : {}),
          origin: 'UCUM (NLM ucum-lhc)',
        };
      return undefined;
    }
    return this.concepts.get(system)?.get(code);
  }

  /** Systems $lookup can answer for. */
  knownSystems(): string[] {
    return [this.systems.ucum, ...this.concepts.keys()];
  }

  /** HL7 table 0396 (and common spellings) → a system URI; unknown names come back as they are. */
  codingSystemUri(name: string): { uri: string; known: boolean } {
    if (name.length > 200) return this.codingSystemUriUncached(name);
    return this.remember(`system\u0000${name}`, () => this.codingSystemUriUncached(name));
  }

  private codingSystemUriUncached(name: string): { uri: string; known: boolean } {
    const n = name.trim();
    const table = /^HL7(\d{4})$/i.exec(n);
    if (table) return { uri: `${this.systems.v2Table}${table[1]}`, known: true };
    const match = this.translateOne('v2-coding-system', n) ?? this.translateOne('v2-coding-system', n.toUpperCase());
    if (match) return { uri: resolveSystem(match.code, this.systems)!, known: true };
    if (/^(urn:|https?:\/\/)/.test(n)) return { uri: n, known: true };
    return { uri: n, known: false };
  }
}
