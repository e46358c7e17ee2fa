// Identifier systems and extensions by which resources point back to where they came from.
export const LINEAGE = {
  /** Provenance.entity.what.identifier.system for the message store id of the inbound message. */
  messageSystem: 'urn:keney:message',
  /** Identifier system of the principal (API token subject) that made a change. */
  principalSystem: 'urn:keney:principal',
  /** Identifier system of a channel. */
  channelSystem: 'urn:keney:channel',
  extensionBase: 'https://keney.health/fhir/StructureDefinition/',
  changeSetExtension: 'https://keney.health/fhir/StructureDefinition/change-set',
  controlIdExtension: 'https://keney.health/fhir/StructureDefinition/control-id',
  rawSha256Extension: 'https://keney.health/fhir/StructureDefinition/raw-sha256',
  senderExtension: 'https://keney.health/fhir/StructureDefinition/sender',
} as const;
