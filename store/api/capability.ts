// The CapabilityStatement, generated from what the server actually does: the persisted resource types,
// their interactions, and exactly the search parameters the index answers.
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { loadDefinitions, searchParamsOf } from '../fhir/definitions.js';
import { isPersistableType } from '../fhir/validate.js';

const cache = new Map<string, string>();
const startedAt = new Date().toISOString();

/** The statement for a base URL. */
export function capabilityStatement(baseUrl: string, version: string): CapabilityStatement {
  return JSON.parse(capabilityStatementJson(baseUrl, version)) as CapabilityStatement;
}

/** The statement for a base URL, serialized once (it only changes with the code; it weighs several hundred kB). */
export function capabilityStatementJson(baseUrl: string, version: string): string {
  const key = `${baseUrl} ${version}`;
  let json = cache.get(key);
  if (!json) {
    json = JSON.stringify(buildCapabilityStatement(baseUrl, version));
    if (cache.size > 32) cache.clear();
    cache.set(key, json);
  }
  return json;
}

function buildCapabilityStatement(baseUrl: string, version: string): CapabilityStatement {
  const { resourceTypes } = loadDefinitions();
  const resources: CapabilityStatementRestResource[] = resourceTypes.filter(isPersistableType).map((type) => {
    const params = [...searchParamsOf(type).values()];
    const referenceParams = params.filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`);
    return {
      type: type as CapabilityStatementRestResource['type'],
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: [
        'read',
        'vread',
        'update',
        'delete',
        'history-instance',
        'history-type',
        'create',
        'search-type',
      ].map((code) => ({ code }) as NonNullable<CapabilityStatementRestResource['interaction']>[number]),
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalUpdate: true,
      conditionalDelete: 'single',
      conditionalRead: 'not-supported',
      referencePolicy: ['literal', 'logical', 'local'],
      searchInclude: referenceParams,
      searchRevInclude: ['Provenance:target'],
      searchParam: [
        { name: '_id', type: 'token', documentation: 'Logical id' },
        { name: '_lastUpdated', type: 'date', documentation: 'When the version was recorded' },
        // The definition URL leads to the official description; repeating it here would triple the statement.
        ...params.map((p) => ({ name: p.code, definition: p.url, type: p.type })),
      ] as CapabilityStatementRestResource['searchParam'],
      ...(type === 'Patient'
        ? {
            operation: [
              { name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
            ],
          }
        : {}),
    };
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: startedAt,
    publisher: 'Keney Hub',
    kind: 'instance',
    software: { name: 'Keney Hub', version },
    implementation: { description: 'Keney Hub canonical FHIR store', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: false,
          description:
            'Every request needs a bearer token (Authorization: Bearer …), issued by the hub (`keney token create`).',
        },
        resource: resources,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
        searchParam: [
          { name: '_count', type: 'number', documentation: 'Page size (default 20, at most 1000)' },
          {
            name: '_sort',
            type: 'string',
            documentation: 'Sort by search parameters, _id or _lastUpdated; - for descending',
          },
          {
            name: '_include',
            type: 'string',
            documentation: 'SourceType:param[:TargetType], :iterate supported one level',
          },
          { name: '_revinclude', type: 'string', documentation: 'SourceType:param' },
          { name: '_summary', type: 'token', documentation: 'count only' },
          { name: '_total', type: 'token', documentation: 'accurate' },
        ],
      },
    ],
  };
}
