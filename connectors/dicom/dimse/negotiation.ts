// Association negotiation policy (PS3.7 Annex D, PS3.8 §7.1): which presentation contexts we accept,
// with which transfer syntax, and why an association is rejected. Pure, so it is tested without sockets.
import { isStorageSopClass, SopClass, TransferSyntax, transferSyntaxInfo } from '../../../adapters/dicom/uids.js';
import {
  APPLICATION_CONTEXT,
  ContextResult,
  RejectReason,
  RejectResult,
  RejectSource,
  type AcceptedContext,
  type AssociateRq,
  type RoleSelection,
} from './pdu.js';

export const QUERY_RETRIEVE_SOP_CLASSES = [
  SopClass.PatientRootFind,
  SopClass.PatientRootMove,
  SopClass.PatientRootGet,
  SopClass.StudyRootFind,
  SopClass.StudyRootMove,
  SopClass.StudyRootGet,
] as const;

/** Transfer syntaxes for non-storage services (commands' identifiers): the uncompressed ones. */
const UNCOMPRESSED = [
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
] as const;

export interface NegotiationPolicy {
  aeTitle: string;
  /** Reject associations whose Called AE Title is not ours (default true). */
  checkCalledAeTitle: boolean;
  /** Calling AE titles allowed; undefined allows any. */
  allowedCallingAeTitles?: readonly string[];
  /** Extra check on storage SOP classes (default: every storage SOP class). */
  acceptSopClass?: (sopClassUid: string) => boolean;
  maxPduLength: number;
}

export type NegotiationResult =
  | { kind: 'reject'; result: number; source: number; reason: number; why: string }
  | { kind: 'accept'; contexts: AcceptedContext[]; roles: RoleSelection[] };

export function negotiate(rq: AssociateRq, policy: NegotiationPolicy): NegotiationResult {
  if ((rq.protocolVersion & 1) !== 1) {
    return {
      kind: 'reject',
      result: RejectResult.Permanent,
      source: RejectSource.ServiceProviderAcse,
      reason: RejectReason.ProtocolVersionNotSupported,
      why: `protocol version ${rq.protocolVersion}`,
    };
  }
  if (rq.applicationContext !== APPLICATION_CONTEXT) {
    return {
      kind: 'reject',
      result: RejectResult.Permanent,
      source: RejectSource.ServiceUser,
      reason: RejectReason.ApplicationContextNotSupported,
      why: `application context ${rq.applicationContext}`,
    };
  }
  if (policy.checkCalledAeTitle && rq.calledAeTitle !== policy.aeTitle) {
    return {
      kind: 'reject',
      result: RejectResult.Permanent,
      source: RejectSource.ServiceUser,
      reason: RejectReason.CalledAeNotRecognized,
      why: `called AE title "${rq.calledAeTitle}" is not "${policy.aeTitle}"`,
    };
  }
  if (policy.allowedCallingAeTitles && !policy.allowedCallingAeTitles.includes(rq.callingAeTitle)) {
    return {
      kind: 'reject',
      result: RejectResult.Permanent,
      source: RejectSource.ServiceUser,
      reason: RejectReason.CallingAeNotRecognized,
      why: `calling AE title "${rq.callingAeTitle}" is not allowed`,
    };
  }
  const contexts: AcceptedContext[] = [];
  const seenIds = new Set<number>();
  for (const proposed of rq.contexts) {
    const reply = (result: number, transferSyntax = TransferSyntax.ImplicitVRLittleEndian as string) =>
      contexts.push({ id: proposed.id, result, transferSyntax });
    if (seenIds.has(proposed.id) || proposed.id % 2 === 0) {
      reply(ContextResult.NoReason);
      continue;
    }
    seenIds.add(proposed.id);
    const as = proposed.abstractSyntax;
    const storage = isStorageSopClass(as) && (policy.acceptSopClass?.(as) ?? true);
    const service = as === SopClass.Verification || (QUERY_RETRIEVE_SOP_CLASSES as readonly string[]).includes(as);
    if (!storage && !service) {
      reply(ContextResult.AbstractSyntaxNotSupported);
      continue;
    }
    // The requestor's order of preference, among the syntaxes we can read.
    const chosen = proposed.transferSyntaxes.find((ts) =>
      storage ? transferSyntaxInfo(ts) !== undefined : (UNCOMPRESSED as readonly string[]).includes(ts),
    );
    if (!chosen) reply(ContextResult.TransferSyntaxesNotSupported);
    else reply(ContextResult.Acceptance, chosen);
  }
  // Role selection: a C-GET requestor asks to be the storage SCP; we accept for the storage classes we accepted.
  const acceptedStorage = new Set(
    rq.contexts
      .filter((c) => contexts.some((a) => a.id === c.id && a.result === 0) && isStorageSopClass(c.abstractSyntax))
      .map((c) => c.abstractSyntax),
  );
  const roles = rq.userInformation.roles
    .filter((r) => acceptedStorage.has(r.sopClassUid))
    .map((r) => ({ sopClassUid: r.sopClassUid, scu: r.scu, scp: r.scp }));
  return { kind: 'accept', contexts, roles };
}
