// The DICOM SCU side: open an association to a remote AE, C-ECHO, C-STORE (also used for C-MOVE
// sub-operations), C-FIND; and a forwarder that retries with backoff and keeps the remote's statuses.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  SopClass,
  TransferSyntax,
} from '../../../adapters/dicom/uids.js';
import { Association, DEFAULT_LIMITS, type AssociationLimits, type DimseMessage } from './association.js';
import { CommandField, Status, statusKind } from './command.js';
import {
  APPLICATION_CONTEXT,
  PduType,
  RejectResult,
  type AssociateAc,
  type AssociateRj,
  type AssociateRq,
  type RoleSelection,
} from './pdu.js';

export interface RemoteAe {
  aeTitle: string;
  host: string;
  port: number;
  /** TLS options (certificate checks as Node's tls.connect); absent = plain TCP. */
  tls?: ConnectionOptions;
}

export interface AssociateOptions {
  callingAeTitle: string;
  /** Abstract syntax → transfer syntaxes to propose (one context per entry). */
  contexts: Array<{ abstractSyntax: string; transferSyntaxes: string[] }>;
  roles?: RoleSelection[];
  limits?: Partial<AssociationLimits>;
  connectTimeoutMs?: number;
}

export const ScuErrorCode = {
  ConnectFailed: 'DICOM_SCU_CONNECT_FAILED',
  Rejected: 'DICOM_SCU_REJECTED',
  Aborted: 'DICOM_SCU_ABORTED',
  NoContext: 'DICOM_SCU_NO_CONTEXT',
} as const;
export type ScuErrorCode = (typeof ScuErrorCode)[keyof typeof ScuErrorCode];

export class ScuError extends Error {
  override readonly name = 'ScuError';
  constructor(
    readonly code: ScuErrorCode,
    message: string,
    /** Worth retrying later (connection refused, transient rejection, abort). */
    readonly transient: boolean,
  ) {
    super(message);
  }
}

function openSocket(remote: RemoteAe, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = remote.tls
      ? tlsConnect({ host: remote.host, port: remote.port, ...remote.tls })
      : netConnect({ host: remote.host, port: remote.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new ScuError(
          ScuErrorCode.ConnectFailed,
          `No connection to ${remote.aeTitle} at ${remote.host}:${remote.port} within ${timeoutMs} ms`,
          true,
        ),
      );
    }, timeoutMs);
    socket.once(remote.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new ScuError(
          ScuErrorCode.ConnectFailed,
          `Cannot connect to ${remote.aeTitle} at ${remote.host}:${remote.port}: ${error.message}`,
          true,
        ),
      );
    });
  });
}

/** Opens an association; resolves once it is accepted (some contexts may still be rejected). */
export async function associate(remote: RemoteAe, options: AssociateOptions): Promise<Association> {
  const socket = await openSocket(remote, options.connectTimeoutMs ?? 10_000);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const association = new Association(socket, limits);
  const rq: AssociateRq = {
    type: PduType.AssociateRq,
    protocolVersion: 1,
    calledAeTitle: remote.aeTitle,
    callingAeTitle: options.callingAeTitle,
    applicationContext: APPLICATION_CONTEXT,
    contexts: options.contexts.map((c, i) => ({
      id: 2 * i + 1,
      abstractSyntax: c.abstractSyntax,
      transferSyntaxes: c.transferSyntaxes,
    })),
    userInformation: {
      maxPduLength: limits.maxPduLength,
      implementationClassUid: IMPLEMENTATION_CLASS_UID,
      implementationVersionName: IMPLEMENTATION_VERSION_NAME,
      roles: options.roles ?? [],
    },
  };
  if (rq.contexts.length > 128) throw new RangeError('At most 128 presentation contexts can be proposed');
  const answer = new Promise<AssociateAc>((resolve, reject) => {
    association.once('pdu', (pdu: AssociateAc | AssociateRj) => {
      if (pdu.type === PduType.AssociateAc) resolve(pdu);
      else {
        reject(
          new ScuError(
            ScuErrorCode.Rejected,
            `${remote.aeTitle} rejected the association (result ${pdu.result}, source ${pdu.source}, reason ${pdu.reason})`,
            pdu.result === RejectResult.Transient,
          ),
        );
        association.abort();
      }
    });
    association.once('close', () =>
      reject(
        new ScuError(
          ScuErrorCode.Aborted,
          `${remote.aeTitle} closed the connection during association negotiation`,
          true,
        ),
      ),
    );
  });
  await association.sendPdu(rq);
  const ac = await answer;
  association.establish(rq, ac, 'requestor');
  return association;
}

export interface StoreItem {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** The data set bytes (without file meta), as stored. */
  dataSet: Buffer | (() => Promise<Buffer>);
}

export interface StoreResult {
  sopInstanceUid: string;
  /** The remote's DIMSE status (or undefined when it never answered). */
  status?: number;
  errorComment?: string;
  ok: boolean;
  error?: string;
}

/** C-STORE on an open association. */
export async function cStore(
  association: Association,
  item: StoreItem,
  extra: { moveOriginatorAeTitle?: string; moveOriginatorMessageId?: number } = {},
): Promise<StoreResult> {
  const context = association.findContext(item.sopClassUid, item.transferSyntaxUid);
  if (!context) {
    return {
      sopInstanceUid: item.sopInstanceUid,
      ok: false,
      error: `The peer accepted no presentation context for ${item.sopClassUid} in ${item.transferSyntaxUid}`,
    };
  }
  let bytes = typeof item.dataSet === 'function' ? await item.dataSet() : item.dataSet;
  // Data set fragments must have an even length: a deflated stream of odd length gets its pad byte (PS3.5 A.5).
  if (bytes.length % 2 === 1) bytes = Buffer.concat([bytes, Buffer.of(0)]);
  const response: DimseMessage = await association.request(
    context.id,
    {
      commandField: CommandField.CStoreRq,
      affectedSopClassUid: item.sopClassUid,
      affectedSopInstanceUid: item.sopInstanceUid,
      priority: 0,
      ...extra,
    },
    bytes,
  );
  const status = response.command.status ?? Status.UnableToProcess;
  const kind = statusKind(status);
  return {
    sopInstanceUid: item.sopInstanceUid,
    status,
    ...(response.command.errorComment ? { errorComment: response.command.errorComment } : {}),
    ok: kind === 'success' || kind === 'warning',
  };
}

export async function cEcho(remote: RemoteAe, callingAeTitle: string): Promise<number> {
  const association = await associate(remote, {
    callingAeTitle,
    contexts: [{ abstractSyntax: SopClass.Verification, transferSyntaxes: [TransferSyntax.ImplicitVRLittleEndian] }],
  });
  try {
    const context = association.findContext(SopClass.Verification);
    if (!context) throw new ScuError(ScuErrorCode.NoContext, `${remote.aeTitle} does not accept Verification`, false);
    const response = await association.request(context.id, {
      commandField: CommandField.CEchoRq,
      affectedSopClassUid: SopClass.Verification,
    });
    return response.command.status ?? Status.UnableToProcess;
  } finally {
    await association.release();
  }
}

/** The contexts needed to send these items: one per (SOP class, transfer syntax). */
export function storageContexts(
  items: readonly Pick<StoreItem, 'sopClassUid' | 'transferSyntaxUid'>[],
): Array<{ abstractSyntax: string; transferSyntaxes: string[] }> {
  const seen = new Map<string, { abstractSyntax: string; transferSyntaxes: string[] }>();
  for (const item of items) {
    const key = `${item.sopClassUid}|${item.transferSyntaxUid}`;
    if (!seen.has(key)) seen.set(key, { abstractSyntax: item.sopClassUid, transferSyntaxes: [item.transferSyntaxUid] });
  }
  return [...seen.values()];
}

export interface ForwardOptions {
  callingAeTitle: string;
  /** Attempts per instance, including the first (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles each time, capped at maxDelayMs (defaults 500 ms, 30 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Instances per association (default 64). */
  batchSize?: number;
  limits?: Partial<AssociationLimits>;
  /** Called before each retry (for logs / metrics). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; pending: number }) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Statuses worth retrying: the remote was out of resources (A7xx), or could not process right now (C001?). */
function retryable(status: number | undefined): boolean {
  return status === undefined || (status & 0xff00) === 0xa700;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new Error('Forwarding was cancelled'));
    });
  });

/**
 * Sends instances to a remote AE by C-STORE. Connection failures, transient rejections, aborts and
 * "out of resources" statuses are retried with exponential backoff; the final result of each instance
 * keeps the remote's own status and comment.
 */
export async function forwardByCStore(
  remote: RemoteAe,
  items: readonly StoreItem[],
  options: ForwardOptions,
): Promise<StoreResult[]> {
  const results = new Map<string, StoreResult>();
  let pending = [...items];
  const maxAttempts = options.maxAttempts ?? 5;
  const batchSize = options.batchSize ?? 64;
  for (let attempt = 1; pending.length > 0 && attempt <= maxAttempts; attempt++) {
    if (attempt > 1) {
      const delayMs = Math.min(options.maxDelayMs ?? 30_000, (options.baseDelayMs ?? 500) * 2 ** (attempt - 2));
      await options.onRetry?.({
        attempt,
        delayMs,
        reason: [...results.values()].find((r) => !r.ok)?.error ?? 'remote status',
        pending: pending.length,
      });
      await sleep(delayMs, options.signal);
    }
    const retry: StoreItem[] = [];
    let next = 0;
    // Items go one by one; an association that dies takes only the item in flight with it, the next
    // items continue on a new association.
    while (next < pending.length) {
      const batch = pending.slice(next, next + batchSize);
      let association: Association | undefined;
      try {
        association = await associate(remote, {
          callingAeTitle: options.callingAeTitle,
          contexts: storageContexts(batch),
          ...(options.limits ? { limits: options.limits } : {}),
        });
      } catch (error) {
        const transient = !(error instanceof ScuError) || error.transient;
        for (const item of batch) {
          results.set(item.sopInstanceUid, {
            sopInstanceUid: item.sopInstanceUid,
            ok: false,
            error: (error as Error).message,
          });
          if (transient) retry.push(item);
        }
        next += batch.length;
        continue;
      }
      try {
        for (const item of batch) {
          next++;
          try {
            const result = await cStore(association, item);
            results.set(item.sopInstanceUid, result);
            if (!result.ok && retryable(result.status) && result.error === undefined) retry.push(item);
          } catch (error) {
            results.set(item.sopInstanceUid, {
              sopInstanceUid: item.sopInstanceUid,
              ok: false,
              error: (error as Error).message,
            });
            retry.push(item);
            break;
          }
          if (association.isClosed) break;
        }
      } finally {
        if (!association.isClosed) await association.release().catch(() => association?.abort());
      }
    }
    pending = retry;
  }
  return items.map(
    (item) =>
      results.get(item.sopInstanceUid) ?? { sopInstanceUid: item.sopInstanceUid, ok: false, error: 'not attempted' },
  );
}
