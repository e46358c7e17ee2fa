// Where an item came from. The store writes one Provenance per applied change set (docs/adr/0006): its targets
// are the versions written, its agent the channel (urn:keney:channel|id) or the API principal, its source entity
// the inbound message (urn:keney:message|id) with the sender's control id and the sender as extensions.
import type { Provenance } from '@medplum/fhirtypes';

export const LINEAGE_SYSTEMS = {
  message: 'urn:keney:message',
  channel: 'urn:keney:channel',
  principal: 'urn:keney:principal',
  controlIdExtension: 'https://keney.health/fhir/StructureDefinition/control-id',
  senderExtension: 'https://keney.health/fhir/StructureDefinition/sender',
  changeSetExtension: 'https://keney.health/fhir/StructureDefinition/change-set',
} as const;

export interface Source {
  provenanceId: string;
  /** When the change was recorded (the log's append time). */
  recorded?: string;
  /** The channel id, when a channel wrote it. */
  channel?: string;
  /** The API principal (token id), when the REST API wrote it. */
  principal?: string;
  /** The message store id of the inbound message. */
  messageId?: string;
  /** The sender's control id (MSH-10, a SOP Instance UID, a submission set id…). */
  controlId?: string;
  /** The sending system (MSH-3^MSH-4, a calling AE title…). */
  sender?: string;
  /** The resource version this Provenance wrote. */
  version?: string;
}

function extension(provenance: Provenance, url: string): string | undefined {
  return provenance.extension?.find((e) => e.url === url)?.valueString;
}

/** "Observation/x/_history/2" → ["Observation/x", "2"]. */
function splitTarget(reference: string): [string, string | undefined] {
  const m = /^([A-Za-z]+\/[^/]+)(?:\/_history\/([^/]+))?$/.exec(reference);
  return m ? [m[1]!, m[2]] : [reference, undefined];
}

export function sourceOf(provenance: Provenance, version?: string): Source {
  const who = provenance.agent?.[0]?.who?.identifier;
  const message = provenance.entity?.find((e) => e.what?.identifier?.system === LINEAGE_SYSTEMS.message)?.what
    ?.identifier?.value;
  const controlId = extension(provenance, LINEAGE_SYSTEMS.controlIdExtension);
  const sender = extension(provenance, LINEAGE_SYSTEMS.senderExtension);
  return {
    provenanceId: provenance.id ?? '',
    ...(provenance.recorded ? { recorded: provenance.recorded } : {}),
    ...(who?.system === LINEAGE_SYSTEMS.channel && who.value ? { channel: who.value } : {}),
    ...(who?.system === LINEAGE_SYSTEMS.principal && who.value ? { principal: who.value } : {}),
    ...(message ? { messageId: message } : {}),
    ...(controlId ? { controlId } : {}),
    ...(sender ? { sender } : {}),
    ...(version ? { version } : {}),
  };
}

/** Sources by resource ("Type/id"), most recent first. */
export class LineageIndex {
  private readonly byTarget = new Map<string, Source[]>();

  constructor(provenances: Provenance[] = []) {
    this.add(provenances);
  }

  add(provenances: Provenance[]): void {
    for (const provenance of provenances) {
      for (const target of provenance.target ?? []) {
        if (!target.reference) continue;
        const [key, version] = splitTarget(target.reference);
        const list = this.byTarget.get(key) ?? [];
        if (!list.some((s) => s.provenanceId === provenance.id)) list.push(sourceOf(provenance, version));
        list.sort(
          (a, b) =>
            (b.recorded ?? '').localeCompare(a.recorded ?? '') || Number(b.version ?? 0) - Number(a.version ?? 0),
        );
        this.byTarget.set(key, list);
      }
    }
  }

  /** Every source of a resource, most recent first. */
  sources(reference: string): Source[] {
    return this.byTarget.get(reference) ?? [];
  }

  /** The source of the current version (the most recent change). */
  latest(reference: string): Source | undefined {
    return this.sources(reference)[0];
  }
}
