// Puts each received DICOM instance into the canonical record: reads its study from the archive, builds the
// change set (study-bundle.ts), checks it against R4, appends it to the log and waits for the projector's
// outcome so that the sender's answer says what happened:
//   applied                      → success
//   durable, not yet applied     → success (the ACK point is the durable append; a later refusal puts the
//                                  message in the error state through the outcome listener)
//   refused by the store         → 0xC110 (error, C-STORE "cannot understand" range), with the reason in the
//                                  Error Comment (e.g. two patients share the identifier)
//   not durable (log down)       → 0xA700 out of resources: send again later
//   mapping produced invalid R4  → 0xC111, naming the element
//
// The instances of one study are recorded one after the other (build + append under a per-study lock, in
// process; on PostgreSQL also under an advisory lock shared by the hub instances), so the change set appended
// last was built from an archive holding every earlier instance: the ImagingStudy converges on the full study
// whatever the order and concurrency of the senders.
import { randomUUID } from 'node:crypto';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { CanonicalStore } from '../../../store/canonical-store.js';
import { OriginKind, type ChangeOrigin, type ChangeSet } from '../../../store/change-set.js';
import { isFhirError } from '../../../store/fhir/outcome.js';
import { validateForWrite } from '../../../store/fhir/validate.js';
import { OutcomeTimeoutError } from '../../../store/outcome-waiter.js';
import type { ChangeSetOutcome } from '../../../store/projection/apply.js';
import { PostgresClient } from '../../../store/sql/postgres-client.js';
import type { SqlClient } from '../../../store/sql/sql-client.js';
import type { MappingIssue } from '../../../mappings/mapper.js';
import { InstanceProcessingError, type InstanceStoredEvent } from '../dicom-service.js';
import { Status } from '../dimse/command.js';
import type { InstanceIndex } from '../index/instance-index.js';
import { bundleResources, studyBundle, type StudyBundleOptions } from './study-bundle.js';

export const RecordErrorCode = {
  /** The mapping gave a resource that is not valid R4 (a bug or a very unusual instance): the reason names the element. */
  Invalid: 'DICOM_RECORD_INVALID',
  /** The store refused the change set (e.g. the identifiers match two different patients). */
  Refused: 'DICOM_RECORD_REFUSED',
  /** The change set could not be made durable (the change log is down): the sender must send again. */
  Unavailable: 'DICOM_RECORD_UNAVAILABLE',
} as const;
export type RecordErrorCode = (typeof RecordErrorCode)[keyof typeof RecordErrorCode];

/** Advisory lock class of the per-study lock (PostgreSQL: shared by every hub instance on the database). */
const STUDY_LOCK_CLASS = 7_345_201;

export interface StudyRecorderOptions extends StudyBundleOptions {
  /** The channel named in the Provenance of every change set (default `dicom`). */
  channel?: string;
  /** How long the sender's answer waits for the projection once the change set is durable (default 10 s). */
  outcomeTimeoutMs?: number;
}

export interface RecordContext {
  /** The message store id of the instance, when a channel received it (Provenance.entity). */
  messageId?: string;
  /** The channel that received it (default: the recorder's). */
  channel?: string;
  /** The change set id (default: random): give a stable one to make a retry idempotent. */
  changeSetId?: string;
  /** sha256 of the raw message (default: the archived file's). */
  rawSha256?: string;
}

export interface RecordResult {
  changeSetId: string;
  /** False when the change set is durable but was not applied within the wait (it will be). */
  applied: boolean;
  /** `Patient/<id>` and `ImagingStudy/<id>` once applied. */
  patient?: string;
  imagingStudy?: string;
  issues: MappingIssue[];
  /** The change set appended (for channels that keep it). */
  bundle: Bundle;
}

export interface StudyRecorderDeps {
  store: CanonicalStore;
  index: InstanceIndex;
  sql: SqlClient;
  logger?: Logger;
  /** Told about every change set appended and its outcome (statistics, the module's study → patient cache). */
  onRecorded?: (event: { studyInstanceUid: string; result: RecordResult }) => void;
}

interface Appended {
  outcome: Promise<ChangeSetOutcome>;
  bundle: Bundle;
  issues: MappingIssue[];
}

export class StudyRecorder {
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly deps: StudyRecorderDeps,
    private readonly options: StudyRecorderOptions = {},
  ) {}

  get channel(): string {
    return this.options.channel ?? 'dicom';
  }

  /** Records one stored instance; throws InstanceProcessingError with the DIMSE status the sender should get. */
  async record(event: InstanceStoredEvent, context: RecordContext = {}): Promise<RecordResult> {
    const studyUid = event.identity.studyInstanceUid;
    const changeSetId = context.changeSetId ?? randomUUID();
    const timeoutMs = this.options.outcomeTimeoutMs ?? 10_000;
    let appended: Appended;
    try {
      appended = await this.serialized(studyUid, () => this.appendStudy(event, context, changeSetId, timeoutMs));
    } catch (error) {
      await this.notInRecord(event);
      throw error;
    }
    const { outcome, bundle, issues } = appended;

    let result: ChangeSetOutcome;
    try {
      result = await outcome;
    } catch (error) {
      if (error instanceof OutcomeTimeoutError) {
        this.deps.logger?.warn(
          { changeSetId, study: studyUid },
          'DICOM change set durable but not applied yet: the sender is answered success',
        );
        const pending: RecordResult = { changeSetId, applied: false, issues, bundle };
        this.deps.onRecorded?.({ studyInstanceUid: studyUid, result: pending });
        return pending;
      }
      throw error;
    }
    if (result.status === 'rejected') {
      await this.notInRecord(event);
      const reason = outcomeText(result.response as OperationOutcome);
      throw new InstanceProcessingError(
        RecordErrorCode.Refused,
        `The record refused the instance (it is archived): ${reason}`,
        Status.RecordRefused,
        { comment: `Record refused: ${shortReason(reason)}` },
      );
    }
    const locations = ((result.response as Bundle).entry ?? []).map((e) => e.response?.location?.split('/_history')[0]);
    const patient = locations[0];
    const studyIndex = (bundle.entry ?? []).findIndex((e) => e.resource?.resourceType === 'ImagingStudy');
    const imagingStudy = locations[studyIndex];
    const recorded: RecordResult = {
      changeSetId,
      applied: true,
      ...(patient ? { patient } : {}),
      ...(imagingStudy ? { imagingStudy } : {}),
      issues,
      bundle,
    };
    this.deps.onRecorded?.({ studyInstanceUid: studyUid, result: recorded });
    return recorded;
  }

  /** The record did not take the instance: later change sets of its study leave it out. */
  private async notInRecord(event: InstanceStoredEvent): Promise<void> {
    await this.deps.index.setInRecord(event.identity.sopInstanceUid, false).catch(() => undefined);
  }

  /** Builds and appends under the study lock; resolves once durable, with the pending outcome. */
  private async appendStudy(
    event: InstanceStoredEvent,
    context: RecordContext,
    changeSetId: string,
    timeoutMs: number,
  ): Promise<Appended> {
    const studyUid = event.identity.studyInstanceUid;
    // The study as the record has it: the instances recorded before, and this one.
    await this.deps.index.setInRecord(event.identity.sopInstanceUid, true);
    const study = (await this.deps.index.instances({ studyInstanceUid: studyUid, inRecord: true })).map(
      (i) => i.metadata,
    );
    const built = studyBundle({ instance: event.metadata, dataSet: event.dataSet, study }, this.options);
    for (const resource of bundleResources(built.bundle)) {
      try {
        validateForWrite(resource);
      } catch (error) {
        const detail = isFhirError(error) ? error.message : (error as Error).message;
        throw new InstanceProcessingError(
          RecordErrorCode.Invalid,
          `The ${resource.resourceType} made from the instance is not valid FHIR R4 (${detail}); it is archived but not in the record: report it with the instance.`,
          Status.RecordInvalid,
          { cause: error, comment: `Invalid ${resource.resourceType}: ${detail}` },
        );
      }
    }
    const channel = context.channel ?? this.channel;
    const sender = event.source.callingAeTitle ?? event.source.user;
    const origin: ChangeOrigin = {
      kind: OriginKind.Channel,
      actor: channel,
      channel,
      controlId: event.identity.sopInstanceUid,
      rawSha256: context.rawSha256 ?? event.blob.sha256,
      ...(context.messageId ? { messageId: context.messageId } : {}),
      ...(sender ? { sender } : {}),
    };
    const store = this.deps.store;
    let changeSet: ChangeSet;
    try {
      changeSet = await store.changeSet({ bundle: built.bundle, origin, id: changeSetId });
    } catch (error) {
      throw unavailable(error);
    }
    const outcome = store.outcomes.expect(changeSet.id, timeoutMs);
    try {
      await store.append(changeSet);
    } catch (error) {
      store.outcomes.cancel(changeSet.id, error as Error);
      await outcome.catch(() => undefined);
      this.deps.logger?.error({ err: error, changeSetId }, 'a DICOM change set could not be made durable');
      throw unavailable(error);
    }
    // Keep the outcome's rejection from being reported as unhandled while the lock is released.
    outcome.catch(() => undefined);
    return { outcome, bundle: built.bundle, issues: built.issues };
  }

  /** Runs `work` after every earlier work of the same study (this process), under the database's study lock. */
  private serialized<T>(studyUid: string, work: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(studyUid) ?? Promise.resolve();
    const run = previous.then(
      () => this.underDatabaseLock(studyUid, work),
      () => this.underDatabaseLock(studyUid, work),
    );
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(studyUid, settled);
    void settled.then(() => {
      if (this.chains.get(studyUid) === settled) this.chains.delete(studyUid);
    });
    return run;
  }

  private underDatabaseLock<T>(studyUid: string, work: () => Promise<T>): Promise<T> {
    const sql = this.deps.sql;
    // PGlite is one process: the in-process chain is the lock. PostgreSQL: other hub instances too.
    if (!(sql instanceof PostgresClient)) return work();
    return sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [STUDY_LOCK_CLASS, studyUid]);
      return work();
    });
  }
}

function unavailable(error: unknown): InstanceProcessingError {
  return new InstanceProcessingError(
    RecordErrorCode.Unavailable,
    `The record is unavailable (${(error as Error).message}); the instance is archived: send it again later.`,
    Status.OutOfResources,
    { cause: error, comment: 'Record unavailable, send again later' },
  );
}

/** The reason without the Bundle position, and a multiple match said in a few words. */
function shortReason(reason: string): string {
  const multiple = /matched (\d+) (\w+) resources/.exec(reason);
  if (multiple) return `${multiple[1]} ${multiple[2]} match its identifiers`;
  return reason.replace(/Bundle\.entry\[\d+\]: /g, '');
}

function outcomeText(outcome: OperationOutcome | undefined): string {
  const texts = (outcome?.issue ?? []).map((i) => i.details?.text ?? i.diagnostics).filter((t): t is string => !!t);
  return texts.join('; ') || 'no reason given';
}
