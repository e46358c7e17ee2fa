// The CapabilityStatement, generated from what the server actually does: the persisted resource types,
// their interactions, and exactly the search parameters the index answers.
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { loadDefinitions, searchParamsOf } from '../fhir/definitions.js';
import { isPersistableType } from '../fhir/validate.js';

export function capabilityStatement(baseUrl: string, version: string): CapabilityStatement {
  const { resourceTypes } = loadDefinitions();
  const resources: CapabilityStatementRestResource[] = resourceTypes.filter(isPersistableType).map((type) => {
    const params = [...searchParamsOf(type).values()];
    const referenceParams = params.filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`);
    return {
      type: type as CapabilityStatementRestResource['type'],
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: ['read', 'vread', 'update', 'delete', 'history-instance', 'history-type', 'create', 'search-type'].map(
        (code) => ({ code }) as NonNullable<CapabilityStatementRestResource['interaction']>[number],
      ),
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
        ...params.map((p) => ({ name: p.code, definition: p.url, type: p.type, documentation: p.description })),
      ] as CapabilityStatementRestResource['searchParam'],
      ...(type === 'Patient'
        ? { operation: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }] }
        : {}),
    };
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
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
          description: 'Every request needs a bearer token (Authorization: Bearer …), issued by the hub (`keney token create`).',
        },
        resource: resources,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
        searchParam: [
          { name: '_count', type: 'number', documentation: 'Page size (default 20, at most 1000)' },
          { name: '_sort', type: 'string', documentation: 'Sort by search parameters, _id or _lastUpdated; - for descending' },
          { name: '_include', type: 'string', documentation: 'SourceType:param[:TargetType], :iterate supported one level' },
          { name: '_revinclude', type: 'string', documentation: 'SourceType:param' },
          { name: '_summary', type: 'token', documentation: 'count only' },
          { name: '_total', type: 'token', documentation: 'accurate' },
        ],
      },
    ],
  };
}
