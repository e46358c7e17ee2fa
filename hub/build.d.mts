// Types of hub/build.mjs (plain JavaScript so that bin/keney.js can use it before any TypeScript runs).
export declare const ROOT: string;
export declare const BUILD_DIR: string;
export type BuildCheck = { ok: true } | { ok: false; reason: string };
export declare function listSources(root?: string): string[];
export declare function checkBuild(root?: string, buildDir?: string): BuildCheck;
export declare function buildHub(options?: {
  root?: string;
  buildDir?: string;
}): Promise<{ files: number; ms: number }>;
export declare const PGLITE_TEMPLATE_DIR: string;
export declare function pgliteTemplate(
  root?: string,
  templateDir?: string,
): { path: string; reason?: undefined } | { path?: undefined; reason: string };
export declare function buildPgliteTemplate(options?: {
  root?: string;
  templateDir?: string;
}): Promise<{ made: boolean; ms?: number }>;
