// rs:RegistryResponse with rs:RegistryErrorList — the answer of ITI-41/ITI-42, and the status part of ITI-18/ITI-43.
import { attribute, childElement, childElements, el, type XmlElement, type XmlElementSpec } from '../xml/index.js';
import { ErrorSeverity, Ns, ResponseStatus, type XdsErrorCode } from './constants.js';
import { severityUrn, type XdsIssue } from './model.js';

/** Status of a response: Failure when any error, else Success (warnings do not fail a submission). */
export function responseStatus(issues: readonly XdsIssue[], partial = false): ResponseStatus {
  if (issues.some((i) => i.severity === 'error'))
    return partial ? ResponseStatus.partialSuccess : ResponseStatus.failure;
  return ResponseStatus.success;
}

export function buildRegistryErrorList(issues: readonly XdsIssue[], prefix = 'rs'): XmlElementSpec | undefined {
  if (issues.length === 0) return undefined;
  return el(
    `${prefix}:RegistryErrorList`,
    { highestSeverity: issues.some((i) => i.severity === 'error') ? ErrorSeverity.error : ErrorSeverity.warning },
    ...issues.map((i) =>
      el(`${prefix}:RegistryError`, {
        errorCode: i.code,
        codeContext: i.message,
        severity: severityUrn(i),
        location: i.location,
      }),
    ),
  );
}

/** `<rs:RegistryResponse status="…">` with its error list. */
export function buildRegistryResponse(
  issues: readonly XdsIssue[],
  options: { status?: ResponseStatus; declareNamespace?: boolean } = {},
): XmlElementSpec {
  return el(
    'rs:RegistryResponse',
    {
      ...(options.declareNamespace === false ? {} : { 'xmlns:rs': Ns.rs }),
      status: options.status ?? responseStatus(issues),
    },
    buildRegistryErrorList(issues),
  );
}

export interface ParsedRegistryResponse {
  status: string;
  success: boolean;
  errors: XdsIssue[];
}

/** Reads a rs:RegistryResponse (or any element carrying @status and a rs:RegistryErrorList). */
export function parseRegistryResponse(element: XmlElement): ParsedRegistryResponse {
  const status = attribute(element, 'status') ?? '';
  const list = childElement(element, Ns.rs, 'RegistryErrorList');
  const errors: XdsIssue[] = (list ? childElements(list, Ns.rs, 'RegistryError') : []).map((e) => {
    const location = attribute(e, 'location');
    return {
      code: (attribute(e, 'errorCode') ?? '') as XdsErrorCode,
      severity: attribute(e, 'severity') === ErrorSeverity.warning ? 'warning' : 'error',
      message: attribute(e, 'codeContext') ?? '',
      ...(location ? { location } : {}),
    };
  });
  return { status, success: status === ResponseStatus.success, errors };
}
