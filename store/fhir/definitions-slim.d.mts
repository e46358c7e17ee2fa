// Types of definitions-slim.mjs (plain JavaScript so that the build can run it without a TypeScript loader).
import type { Bundle } from '@medplum/fhirtypes';
export declare const SLIM_DIR: string;
export declare const SLIMMED_FILES: string[];
export declare const DEFINITIONS_DIR: string;
export declare function slimStructureDefinitionBundle(bundle: Bundle): Bundle;
export declare function slimInputs(): unknown;
export declare function slimDefinitionsFile(name: string): string;
