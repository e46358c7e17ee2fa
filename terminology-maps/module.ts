// The terminology operations on the API: `$translate` (ConceptMap) and `$lookup` (CodeSystem), GET with query
// parameters or POST with a Parameters resource, answering Parameters or OperationOutcome (application/fhir+json),
// for authenticated callers. Static routes: they win over the store's /fhir/:type/:id.
import type { Coding, OperationOutcome, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HubContext, HubModule } from '../hub/module.js';
import { terminologyMigrations } from './loader.js';
import { TerminologyService, type TerminologyOptions } from './terminology.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

class OperationError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome,
  ) {
    super(outcome.issue?.[0]?.details?.text ?? 'error');
  }
}

function problem(status: number, code: 'invalid' | 'not-found' | 'not-supported' | 'required', text: string): OperationError {
  return new OperationError(status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] });
}

/** Query parameters or a Parameters body as one flat list of named values. */
function inputOf(request: FastifyRequest): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (request.method === 'GET') {
    for (const [k, v] of Object.entries(request.query as Record<string, string | string[]>)) out.set(k, Array.isArray(v) ? v[0] : v);
    return out;
  }
  const body = request.body as Parameters | undefined;
  if (!body || body.resourceType !== 'Parameters') throw problem(400, 'invalid', 'The body must be a Parameters resource (application/fhir+json).');
  for (const p of body.parameter ?? []) {
    const value = p.valueUri ?? p.valueCode ?? p.valueString ?? p.valueCanonical ?? p.valueCoding ?? p.valueCodeableConcept ?? p.valueBoolean;
    if (p.name && value !== undefined) out.set(p.name, value);
  }
  return out;
}

export function translateOperation(terminology: TerminologyService, input: Map<string, unknown>): Parameters {
  const coding = (input.get('coding') as Coding | undefined) ?? ((input.get('codeableConcept') as { coding?: Coding[] } | undefined)?.coding?.[0]);
  const code = (input.get('code') as string | undefined) ?? coding?.code;
  const system = (input.get('system') as string | undefined) ?? coding?.system;
  const url = (input.get('url') as string | undefined) ?? (input.get('conceptMap') as string | undefined);
  const targetSystem = (input.get('targetsystem') as string | undefined) ?? (input.get('targetSystem') as string | undefined);
  if (!code) throw problem(400, 'required', '$translate needs a code (code + system, or coding, or codeableConcept).');
  let matches;
  if (url) {
    const map = terminology.conceptMap(url) ?? terminology.conceptMap(url.replace(/^.*\/ConceptMap\//, ''));
    if (!map) throw problem(404, 'not-found', `No ConceptMap "${url}"; GET /fhir/ConceptMap/$translate?url=… with one of: ${terminology.conceptMapIds().slice(0, 20).join(', ')}…`);
    matches = terminology.translate(map.id!, code, system).filter((m) => !targetSystem || m.system === targetSystem);
  } else {
    if (!system) throw problem(400, 'required', '$translate without a ConceptMap url needs the source system.');
    matches = terminology.translateAny(system, code, targetSystem);
  }
  const usable = matches.filter((m) => m.equivalence !== 'unmatched' && m.equivalence !== 'disjoint');
  const parameter: ParametersParameter[] = [
    { name: 'result', valueBoolean: usable.length > 0 },
    {
      name: 'message',
      valueString: usable.length > 0 ? `${usable.length} match(es) for ${system ? `${system}|` : ''}${code}.` : matches.length > 0 ? `${code} is known to have no equivalent in the target.` : `${code} is not in ${url ?? 'any ConceptMap for this system'}: it is kept as it is and flagged.`,
    },
    ...matches.map((m) => ({
      name: 'match',
      part: [
        { name: 'equivalence', valueCode: m.equivalence },
        ...(m.code ? [{ name: 'concept', valueCoding: { ...(m.system ? { system: m.system } : {}), code: m.code, ...(m.display ? { display: m.display } : {}) } }] : []),
        { name: 'source', valueUri: m.source },
      ],
    })),
  ];
  return { resourceType: 'Parameters', parameter };
}

export async function lookupOperation(terminology: TerminologyService, hub: Pick<HubContext, 'sql'> | undefined, input: Map<string, unknown>): Promise<Parameters> {
  const coding = input.get('coding') as Coding | undefined;
  const code = (input.get('code') as string | undefined) ?? coding?.code;
  const system = (input.get('system') as string | undefined) ?? coding?.system;
  if (!code || !system) throw problem(400, 'required', '$lookup needs system and code (or a coding).');
  if (system === terminology.systems.snomed) {
    throw problem(404, 'not-supported', 'SNOMED CT descriptions are not available on this hub (codes only may be shipped); the code is kept as it is.');
  }
  let concept = terminology.lookup(system, code);
  if (!concept && hub) {
    const rows = await hub.sql.query<{ display: string | null; version: string | null }>('SELECT display, version FROM terminology_concepts WHERE system = $1 AND code = $2', [system, code]);
    const row = rows.rows[0];
    if (row) concept = { system, code, ...(row.display ? { display: row.display } : {}), origin: `loaded file${row.version ? ` (version ${row.version})` : ''}` };
  }
  if (!concept) {
    const loadable = system === terminology.systems.cim10 || system === terminology.systems.ccam;
    throw problem(
      404,
      'not-found',
      `${code} is not known in ${system}.${loadable ? ' CIM-10 and CCAM are loaded by the user: npx tsx terminology-maps/load-cli.ts cim10|ccam FILE (see terminology-maps/README.md).' : ''}`,
    );
  }
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'name', valueString: concept.origin },
      ...(concept.display ? [{ name: 'display', valueString: concept.display }] : []),
      { name: 'code', valueCode: concept.code },
      { name: 'system', valueUri: concept.system },
    ],
  };
}

export function terminologyModule(options: TerminologyOptions & { terminology?: TerminologyService } = {}): HubModule {
  let terminology: TerminologyService | undefined = options.terminology;
  const service = () => (terminology ??= new TerminologyService(options));
  return {
    name: 'terminology',
    migrations: terminologyMigrations,
    async register(app: FastifyInstance, hub: HubContext) {
      await app.register(async (scope) => {
        for (const type of ['application/fhir+json', 'application/json+fhir']) {
          scope.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, done) => {
            try {
              done(null, JSON.parse(body as string));
            } catch (error) {
              done(problem(400, 'invalid', `The body is not valid JSON: ${(error as Error).message}`), undefined);
            }
          });
        }
        scope.setErrorHandler((error: unknown, _request, reply) => {
          if (error instanceof OperationError) return reply.code(error.status).type(FHIR_JSON).send(error.outcome);
          const status = (error as { status?: number; statusCode?: number }).status ?? (error as { statusCode?: number }).statusCode ?? 500;
          const outcome = (error as { outcome?: OperationOutcome }).outcome;
          return reply
            .code(status)
            .type(FHIR_JSON)
            .send(outcome ?? { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: status >= 500 ? 'exception' : 'invalid', details: { text: (error as Error).message } }] });
        });
        const answer = (fn: (input: Map<string, unknown>) => Promise<Parameters> | Parameters) => async (request: FastifyRequest, reply: FastifyReply) => {
          const principal = hub.principalOf(request);
          hub.requireRole(principal, 'admin', 'write', 'read');
          return reply.type(FHIR_JSON).send(await fn(inputOf(request)));
        };
        const translate = answer((input) => translateOperation(service(), input));
        const lookup = answer((input) => lookupOperation(service(), hub, input));
        scope.get('/fhir/ConceptMap/$translate', translate);
        scope.post('/fhir/ConceptMap/$translate', translate);
        scope.get('/fhir/CodeSystem/$lookup', lookup);
        scope.post('/fhir/CodeSystem/$lookup', lookup);
      });
    },
  };
}
