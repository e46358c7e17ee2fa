// The outbound encoders in the form the channel engine calls them (engine/mapper-registry.ts `Encoder`): one FHIR
// resource just applied → one HL7 v2 message. The resource may come alone with its related resources contained,
// or as a Bundle (collection/searchset) whose first entry is the resource and the others its subject, encounter,
// requester, specimens: an encoder is pure and reads nothing from the store.
import { createHash } from 'node:crypto';
import type { Bundle, Encounter, Patient, Practitioner, PractitionerRole, Reference, Resource, ServiceRequest, Specimen } from '@medplum/fhirtypes';
import type { Hl7Message } from '../../adapters/hl7v2/index.js';
import type { MappingIssue } from '../mapper.js';
import { encodeAdtMessage, encodeOrderMessage, OutboundError, type OutboundOptions } from './encoders.js';

export interface EncodeContext {
  channelId: string;
  changeSetId: string;
  at: string;
}

export interface EncodeResult {
  message?: Hl7Message;
  issues: MappingIssue[];
}

export interface OutboundEncoder {
  id: string;
  encode(resource: Resource, context: EncodeContext): EncodeResult;
}

export interface OutboundEncoderOptions {
  sendingApplication?: string;
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
}

/** The focus resource and a resolver over the related ones shipped with it. */
function unpack(input: Resource): { focus: Resource; resolve: <T extends Resource>(ref: Reference | undefined, type: string) => T | undefined } {
  const related: Resource[] = [];
  let focus = input;
  if (input.resourceType === 'Bundle') {
    const resources = ((input as Bundle).entry ?? []).map((e) => e.resource).filter((r): r is Resource => !!r);
    focus = resources[0] ?? input;
    related.push(...resources.slice(1));
  }
  related.push(...((focus as { contained?: Resource[] }).contained ?? []));
  const resolve = <T extends Resource>(ref: Reference | undefined, type: string): T | undefined => {
    if (!ref?.reference) return undefined;
    const target = ref.reference.replace(/^#/, '');
    return related.find((r) => r.resourceType === type && (`${r.resourceType}/${r.id}` === target || r.id === target)) as T | undefined;
  };
  return { focus, resolve };
}

/** MSH-10: 20 characters derived from the change set and the resource, so that a re-send is recognizable. */
function controlIdOf(context: EncodeContext, resource: Resource): string {
  return createHash('sha256').update(`${context.changeSetId}|${resource.resourceType}/${resource.id ?? ''}`).digest('hex').slice(0, 20).toUpperCase();
}

function failure(error: unknown, id: string): EncodeResult {
  if (error instanceof OutboundError) return { issues: [{ severity: 'error', code: error.code, message: error.message, rule: id }] };
  throw error;
}

function orderEncoder(id: string, structure: 'ORM^O01' | 'OML^O21', options: OutboundEncoderOptions): OutboundEncoder {
  return {
    id,
    encode(resource, context) {
      const { focus, resolve } = unpack(resource);
      if (focus.resourceType !== 'ServiceRequest') {
        return { issues: [{ severity: 'error', code: 'OUTBOUND_WRONG_RESOURCE', message: `${id} encodes a ServiceRequest, not a ${focus.resourceType}: subscribe this channel to ServiceRequest only.`, rule: id }] };
      }
      const order = focus as ServiceRequest;
      const patient = resolve<Patient>(order.subject, 'Patient');
      if (!patient) {
        return { issues: [{ severity: 'error', code: 'OUTBOUND_MISSING_DATA', message: `The ServiceRequest's subject (${order.subject?.reference ?? 'none'}) is not given with it: pass a Bundle with the Patient (and the Encounter, requester and specimens) so that PID can be written.`, rule: id }] };
      }
      try {
        const outbound: OutboundOptions = { ...options, controlId: controlIdOf(context, order), dateTime: context.at };
        const encounter = resolve<Encounter>(order.encounter, 'Encounter');
        // The requester is a Practitioner, or a PractitionerRole naming one (what the inbound maps write).
        const role = resolve<PractitionerRole>(order.requester, 'PractitionerRole');
        const requester = resolve<Practitioner>(order.requester, 'Practitioner') ?? (role ? resolve<Practitioner>(role.practitioner, 'Practitioner') : undefined);
        const specimens = (order.specimen ?? []).map((s) => resolve<Specimen>(s, 'Specimen')).filter((s): s is Specimen => !!s);
        const message = encodeOrderMessage({ structure, patient, order, ...(encounter ? { encounter } : {}), ...(requester ? { requester } : {}), specimens }, outbound);
        return { message, issues: [] };
      } catch (error) {
        return failure(error, id);
      }
    },
  };
}

/** ADT event for a resource: a Patient is an update of identity (A08); an Encounter's status gives the movement. */
function adtEvent(resource: Resource): string | undefined {
  if (resource.resourceType === 'Patient') return 'A08';
  if (resource.resourceType !== 'Encounter') return undefined;
  switch ((resource as Encounter).status) {
    case 'planned':
      return 'A05';
    case 'arrived':
    case 'triaged':
    case 'in-progress':
      return 'A01';
    case 'onleave':
      return 'A21';
    case 'finished':
      return 'A03';
    case 'cancelled':
    case 'entered-in-error':
      return 'A11';
    default:
      return 'A08';
  }
}

function adtEncoder(id: string, options: OutboundEncoderOptions): OutboundEncoder {
  return {
    id,
    encode(resource, context) {
      const { focus, resolve } = unpack(resource);
      const event = adtEvent(focus);
      if (!event) return { issues: [{ severity: 'error', code: 'OUTBOUND_WRONG_RESOURCE', message: `${id} encodes a Patient or an Encounter, not a ${focus.resourceType}.`, rule: id }] };
      const encounter = focus.resourceType === 'Encounter' ? (focus as Encounter) : undefined;
      const patient = focus.resourceType === 'Patient' ? (focus as Patient) : resolve<Patient>(encounter?.subject, 'Patient');
      if (!patient) return { issues: [{ severity: 'error', code: 'OUTBOUND_MISSING_DATA', message: `The Encounter's subject (${encounter?.subject?.reference ?? 'none'}) is not given with it: pass a Bundle with the Patient.`, rule: id }] };
      const attending = resolve<Practitioner>(encounter?.participant?.[0]?.individual, 'Practitioner');
      try {
        const message = encodeAdtMessage(
          { event, patient, ...(encounter ? { encounter } : {}), ...(attending ? { attending } : {}) },
          { ...options, controlId: controlIdOf(context, focus), dateTime: context.at, version: { id: '2.5', internationalizationCode: 'FRA', internationalVersionId: '2.11' } },
        );
        return { message, issues: [] };
      } catch (error) {
        return failure(error, id);
      }
    },
  };
}

export function createOutboundEncoders(options: OutboundEncoderOptions = {}): Map<string, OutboundEncoder> {
  return new Map([
    ['hl7v2/orm-o01', orderEncoder('hl7v2/orm-o01', 'ORM^O01', options)],
    ['hl7v2/oml-o21', orderEncoder('hl7v2/oml-o21', 'OML^O21', options)],
    ['hl7v2/adt', adtEncoder('hl7v2/adt', options)],
  ]);
}
