import type { Provenance } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { LineageIndex } from './lineage.js';

// As the projector writes them (store/projection/apply.ts, docs/adr/0006).
function provenance(
  id: string,
  recorded: string,
  targets: string[],
  message?: { id: string; controlId: string },
  channel = 'default-inbound',
): Provenance {
  return {
    resourceType: 'Provenance',
    id,
    recorded,
    target: targets.map((reference) => ({ reference })),
    extension: [
      { url: 'https://keney.health/fhir/StructureDefinition/change-set', valueString: `cs-${id}` },
      ...(message
        ? [{ url: 'https://keney.health/fhir/StructureDefinition/control-id', valueString: message.controlId }]
        : []),
      { url: 'https://keney.health/fhir/StructureDefinition/sender', valueString: 'SIH-TEST^CHU-TEST' },
    ],
    agent: [{ who: { identifier: { system: 'urn:keney:channel', value: channel } } }],
    ...(message
      ? { entity: [{ role: 'source', what: { identifier: { system: 'urn:keney:message', value: message.id } } }] }
      : {}),
  };
}

describe('lineage', () => {
  it('finds the message behind each version of a resource, most recent first', () => {
    const index = new LineageIndex([
      provenance('a', '2024-03-05T11:00:00Z', ['Observation/k/_history/1', 'Patient/p/_history/1'], {
        id: 'm1',
        controlId: 'LAB0001',
      }),
      provenance('b', '2024-03-06T11:00:00Z', ['Observation/k/_history/2'], { id: 'm2', controlId: 'LAB0002' }),
    ]);
    expect(index.latest('Observation/k')).toMatchObject({
      messageId: 'm2',
      controlId: 'LAB0002',
      channel: 'default-inbound',
      sender: 'SIH-TEST^CHU-TEST',
      version: '2',
    });
    expect(index.sources('Observation/k').map((s) => s.messageId)).toEqual(['m2', 'm1']);
    expect(index.latest('Patient/p')?.messageId).toBe('m1');
    expect(index.latest('Observation/unknown')).toBeUndefined();
  });

  it('tells an API write from a channel write and adds the same Provenance only once', () => {
    const api: Provenance = {
      resourceType: 'Provenance',
      id: 'c',
      recorded: '2024-01-01T00:00:00Z',
      target: [{ reference: 'Condition/x/_history/1' }],
      agent: [{ who: { identifier: { system: 'urn:keney:principal', value: 'token-1' } } }],
    };
    const index = new LineageIndex([api]);
    index.add([api]);
    expect(index.sources('Condition/x')).toHaveLength(1);
    expect(index.latest('Condition/x')).toMatchObject({ principal: 'token-1' });
    expect(index.latest('Condition/x')?.messageId).toBeUndefined();
  });
});
