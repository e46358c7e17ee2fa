// Public API of mappings/ (see README.md): the mapper registry the channel engine uses, the quality checker, the
// outbound encoders, and the template tooling.
import type { Hl7Message } from '../adapters/hl7v2/index.js';
import type { TerminologyService } from '../terminology-maps/terminology.js';
import { createTemplateRegistry, type MapperRegistry, type MapperRegistryOptions } from './engine/registry.js';
import type { Mapper, QualityChecker } from './mapper.js';
import { FhirPathQualityChecker, loadQualityRules } from './quality/quality-checker.js';
import { createOutboundEncoders, type OutboundEncoder, type OutboundEncoderOptions } from './outbound/engine-encoders.js';

export type { Mapper, MappingContext, MappingIssue, MappingResult, QualityChecker } from './mapper.js';
export { MappingSeverity } from './mapper.js';
export type { MapperRegistry, MapperRegistryOptions } from './engine/registry.js';
export { TemplateError, TemplateErrorCode } from './engine/load.js';
export { FhirPathQualityChecker, loadQualityRules } from './quality/quality-checker.js';
export type { QualityRule } from './quality/quality-checker.js';
export { encodeOrderMessage, encodeAdtMessage, OutboundError } from './outbound/encoders.js';
export { createOutboundEncoders } from './outbound/engine-encoders.js';
export type { OutboundEncoder, OutboundEncoderOptions, EncodeContext, EncodeResult } from './outbound/engine-encoders.js';
export type { OrderMessageInput, AdtMessageInput, OutboundOptions } from './outbound/encoders.js';

export interface KeneyMapperRegistry extends MapperRegistry {
  /** The quality rules of mappings/quality/rules.yaml (or the file given in the options). */
  readonly quality: QualityChecker;
  /** Outbound encoders: `hl7v2/orm-o01`, `hl7v2/oml-o21` (ServiceRequest → order to a LIS), `hl7v2/adt` (Patient/Encounter → ADT). */
  encoder(id: string): OutboundEncoder | undefined;
  encoderIds(): string[];
}

/**
 * The mappers (`hl7v2/default`, `hl7v2/adt`, `hl7v2/oru`, `hl7v2/orm`, `hl7v2/mdm`, `hl7v2/siu`…) and the quality
 * checker. Loads and checks every template and ConceptMap once (a TemplateError names the file and line).
 */
export function createMapperRegistry(
  options: MapperRegistryOptions & { qualityRulesFile?: string; terminology?: TerminologyService; outbound?: OutboundEncoderOptions } = {},
): KeneyMapperRegistry {
  const registry = createTemplateRegistry(options);
  const quality = new FhirPathQualityChecker(loadQualityRules(options.qualityRulesFile));
  const encoders = createOutboundEncoders(options.outbound);
  return {
    get: (id: string): Mapper<Hl7Message> | undefined => registry.get(id),
    ids: () => registry.ids(),
    forMessageType: (code: string, trigger: string) => registry.forMessageType(code, trigger),
    terminology: registry.terminology,
    quality,
    encoder: (id: string) => encoders.get(id),
    encoderIds: () => [...encoders.keys()],
  };
}
