// STOW-RS client (PS3.18 §10.5): sends Part-10 files, byte for byte, to a remote DICOMweb server, in
// batches, retrying network errors and 5xx/429 with backoff; reads which instances the remote stored.
import { buildMultipart } from './multipart.js';

export interface StowItem {
  sopInstanceUid: string;
  file: Buffer | (() => Promise<Buffer>);
}

export interface StowForwardOptions {
  headers?: Record<string, string>;
  /** Instances per request (default 16). */
  batchSize?: number;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export interface StowInstanceResult {
  sopInstanceUid: string;
  ok: boolean;
  /** Failure Reason (0008,1197) the remote gave, if any. */
  failureReason?: number;
  /** HTTP status of the request that carried the instance. */
  httpStatus?: number;
  error?: string;
}

export interface StowResult {
  ok: boolean;
  instances: StowInstanceResult[];
}

interface DicomJsonLike {
  [tag: string]: { Value?: unknown[] } | undefined;
}

function sequence(json: DicomJsonLike, tag: string): DicomJsonLike[] {
  return (json[tag]?.Value ?? []) as DicomJsonLike[];
}

function first(json: DicomJsonLike, tag: string): unknown {
  return json[tag]?.Value?.[0];
}

export async function stowForward(
  studiesUrl: string,
  items: readonly StowItem[],
  options: StowForwardOptions = {},
): Promise<StowResult> {
  const results: StowInstanceResult[] = [];
  const batchSize = options.batchSize ?? 16;
  for (let start = 0; start < items.length; start += batchSize) {
    const batch = items.slice(start, start + batchSize);
    const files = await Promise.all(batch.map((i) => (typeof i.file === 'function' ? i.file() : i.file)));
    const { body, boundary } = buildMultipart(files.map((file) => ({ contentType: 'application/dicom', body: file })));
    const maxAttempts = options.maxAttempts ?? 5;
    let outcome: StowInstanceResult[] | undefined;
    let lastError = '';
    for (let attempt = 1; attempt <= maxAttempts && !outcome; attempt++) {
      if (attempt > 1) {
        const delayMs = Math.min(options.maxDelayMs ?? 30_000, (options.baseDelayMs ?? 500) * 2 ** (attempt - 2));
        options.onRetry?.({ attempt, delayMs, reason: lastError });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
      let response: Response;
      try {
        response = await fetch(studiesUrl, {
          method: 'POST',
          headers: {
            'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
            Accept: 'application/dicom+json',
            ...options.headers,
          },
          body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.length),
          signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
        });
      } catch (error) {
        lastError = `POST ${studiesUrl} failed: ${(error as Error).message}`;
        continue;
      }
      const text = await response.text();
      if (response.status >= 500 || response.status === 429) {
        lastError = `POST ${studiesUrl} answered ${response.status}: ${text.slice(0, 200)}`;
        continue;
      }
      let json: DicomJsonLike | undefined;
      try {
        const parsed = text ? (JSON.parse(text) as DicomJsonLike | DicomJsonLike[]) : undefined;
        json = Array.isArray(parsed) ? parsed[0] : parsed;
      } catch {
        json = undefined;
      }
      const stored = new Set(sequence(json ?? {}, '00081199').map((item) => String(first(item, '00081155'))));
      const failed = new Map(
        sequence(json ?? {}, '00081198').map((item) => [
          String(first(item, '00081155')),
          Number(first(item, '00081197')),
        ]),
      );
      outcome = batch.map((item) => {
        if (stored.has(item.sopInstanceUid) || (response.ok && !failed.has(item.sopInstanceUid) && !json)) {
          return { sopInstanceUid: item.sopInstanceUid, ok: true, httpStatus: response.status };
        }
        const reason = failed.get(item.sopInstanceUid);
        return {
          sopInstanceUid: item.sopInstanceUid,
          ok: false,
          httpStatus: response.status,
          ...(reason !== undefined && Number.isFinite(reason) ? { failureReason: reason } : {}),
          error:
            reason !== undefined
              ? `the remote refused it (Failure Reason 0x${reason.toString(16).toUpperCase()})`
              : `the remote answered ${response.status} without listing it as stored`,
        };
      });
    }
    results.push(
      ...(outcome ?? batch.map((item) => ({ sopInstanceUid: item.sopInstanceUid, ok: false, error: lastError }))),
    );
  }
  return { ok: results.every((r) => r.ok), instances: results };
}
