// DIMSE command sets (PS3.7 §9, §E): always Implicit VR Little Endian, group 0000.
import { IMPLICIT_LITTLE, parseDataSet, type DataSet } from '../../../adapters/dicom/dataset.js';
import { encodeElements, type ElementValue } from '../../../adapters/dicom/writer.js';

export const CommandField = {
  CStoreRq: 0x0001,
  CStoreRsp: 0x8001,
  CGetRq: 0x0010,
  CGetRsp: 0x8010,
  CFindRq: 0x0020,
  CFindRsp: 0x8020,
  CMoveRq: 0x0021,
  CMoveRsp: 0x8021,
  CEchoRq: 0x0030,
  CEchoRsp: 0x8030,
  CCancelRq: 0x0fff,
} as const;

export const CommandTag = {
  GroupLength: 0x00000000,
  AffectedSOPClassUID: 0x00000002,
  RequestedSOPClassUID: 0x00000003,
  CommandField: 0x00000100,
  MessageID: 0x00000110,
  MessageIDBeingRespondedTo: 0x00000120,
  MoveDestination: 0x00000600,
  Priority: 0x00000700,
  CommandDataSetType: 0x00000800,
  Status: 0x00000900,
  OffendingElement: 0x00000901,
  ErrorComment: 0x00000902,
  AffectedSOPInstanceUID: 0x00001000,
  RequestedSOPInstanceUID: 0x00001001,
  NumberOfRemainingSuboperations: 0x00001020,
  NumberOfCompletedSuboperations: 0x00001021,
  NumberOfFailedSuboperations: 0x00001022,
  NumberOfWarningSuboperations: 0x00001023,
  MoveOriginatorApplicationEntityTitle: 0x00001030,
  MoveOriginatorMessageID: 0x00001031,
} as const;

/** DIMSE statuses we send or interpret (PS3.4 Annex B, C; PS3.7 Annex C). */
export const Status = {
  Success: 0x0000,
  Pending: 0xff00,
  PendingWarning: 0xff01,
  Cancel: 0xfe00,
  /** Warning: sub-operations complete, one or more failures (C-MOVE/C-GET). */
  SubOperationsWithFailures: 0xb000,
  /** C-STORE warning: element coercion. */
  CoercionOfDataElements: 0xb000,
  /** Failure: processing failure (PS3.7 C.4), for the services that list it (not C-STORE). */
  ProcessingFailure: 0x0110,
  DuplicateSopInstance: 0x0111,
  NoSuchSopClass: 0x0118,
  SopClassNotSupported: 0x0122,
  /** Refused: out of resources (C-STORE, C-FIND). */
  OutOfResources: 0xa700,
  /** Refused: out of resources, unable to calculate number of matches (C-MOVE/C-GET). */
  OutOfResourcesMatches: 0xa701,
  /** Refused: out of resources, unable to perform sub-operations. */
  OutOfResourcesSubOperations: 0xa702,
  MoveDestinationUnknown: 0xa801,
  /** Error: data set does not match SOP class (C-STORE); identifier does not match (C-FIND/MOVE/GET). */
  DataSetDoesNotMatchSopClass: 0xa900,
  /** Error: cannot understand / unable to process. */
  CannotUnderstand: 0xc000,
  UnableToProcess: 0xc001,
  /**
   * C-STORE "Error: cannot understand" (C000–CFFF, the meaning is ours, PS3.4 B.2.3): the instance is archived
   * but the canonical record refused it (e.g. its identifiers match two patients); the Error Comment says why.
   */
  RecordRefused: 0xc110,
  /** Same range: the record could not be made from the instance (not valid FHIR R4); the Error Comment names the element. */
  RecordInvalid: 0xc111,
} as const;

export const NO_DATA_SET = 0x0101;

export interface Command {
  commandField: number;
  messageId?: number;
  messageIdBeingRespondedTo?: number;
  affectedSopClassUid?: string;
  requestedSopClassUid?: string;
  affectedSopInstanceUid?: string;
  requestedSopInstanceUid?: string;
  priority?: number;
  hasDataSet: boolean;
  status?: number;
  errorComment?: string;
  moveDestination?: string;
  moveOriginatorAeTitle?: string;
  moveOriginatorMessageId?: number;
  remaining?: number;
  completed?: number;
  failed?: number;
  warning?: number;
}

export function isResponse(commandField: number): boolean {
  return (commandField & 0x8000) !== 0;
}

export function encodeCommand(command: Command): Buffer {
  const e: ElementValue[] = [
    { tag: CommandTag.CommandField, vr: 'US', value: command.commandField },
    { tag: CommandTag.CommandDataSetType, vr: 'US', value: command.hasDataSet ? 0x0000 : NO_DATA_SET },
  ];
  const add = (tag: number, vr: string, value: string | number | undefined) => {
    if (value !== undefined) e.push({ tag, vr, value });
  };
  add(CommandTag.AffectedSOPClassUID, 'UI', command.affectedSopClassUid);
  add(CommandTag.RequestedSOPClassUID, 'UI', command.requestedSopClassUid);
  add(CommandTag.MessageID, 'US', command.messageId);
  add(CommandTag.MessageIDBeingRespondedTo, 'US', command.messageIdBeingRespondedTo);
  add(CommandTag.MoveDestination, 'AE', command.moveDestination);
  add(CommandTag.Priority, 'US', command.priority);
  add(CommandTag.Status, 'US', command.status);
  if (command.errorComment !== undefined)
    add(CommandTag.ErrorComment, 'LO', command.errorComment.replace(/[\\\r\n]/g, ' ').slice(0, 64));
  add(CommandTag.AffectedSOPInstanceUID, 'UI', command.affectedSopInstanceUid);
  add(CommandTag.RequestedSOPInstanceUID, 'UI', command.requestedSopInstanceUid);
  add(CommandTag.NumberOfRemainingSuboperations, 'US', command.remaining);
  add(CommandTag.NumberOfCompletedSuboperations, 'US', command.completed);
  add(CommandTag.NumberOfFailedSuboperations, 'US', command.failed);
  add(CommandTag.NumberOfWarningSuboperations, 'US', command.warning);
  add(CommandTag.MoveOriginatorApplicationEntityTitle, 'AE', command.moveOriginatorAeTitle);
  add(CommandTag.MoveOriginatorMessageID, 'US', command.moveOriginatorMessageId);
  const body = encodeElements(e, IMPLICIT_LITTLE);
  const length = encodeElements([{ tag: CommandTag.GroupLength, vr: 'UL', value: body.length }], IMPLICIT_LITTLE);
  return Buffer.concat([length, body]);
}

export function decodeCommand(bytes: Buffer): Command {
  const ds: DataSet = parseDataSet(bytes, IMPLICIT_LITTLE, { maxDepth: 0 });
  const us = (tag: number) => {
    const b = ds.valueBytes(tag);
    return b && b.length >= 2 ? b.readUInt16LE(0) : undefined;
  };
  const text = (tag: number) => {
    const b = ds.valueBytes(tag);
    if (!b || b.length === 0) return undefined;
    return b
      .toString('latin1')
      .replace(/[\0 ]+$/, '')
      .replace(/^ +/, '');
  };
  const commandField = us(CommandTag.CommandField);
  if (commandField === undefined) throw new Error('Command set has no Command Field (0000,0100)');
  const command: Command = {
    commandField,
    hasDataSet: (us(CommandTag.CommandDataSetType) ?? NO_DATA_SET) !== NO_DATA_SET,
  };
  const set = <K extends keyof Command>(key: K, value: Command[K] | undefined) => {
    if (value !== undefined) command[key] = value;
  };
  set('messageId', us(CommandTag.MessageID));
  set('messageIdBeingRespondedTo', us(CommandTag.MessageIDBeingRespondedTo));
  set('affectedSopClassUid', text(CommandTag.AffectedSOPClassUID));
  set('requestedSopClassUid', text(CommandTag.RequestedSOPClassUID));
  set('affectedSopInstanceUid', text(CommandTag.AffectedSOPInstanceUID));
  set('requestedSopInstanceUid', text(CommandTag.RequestedSOPInstanceUID));
  set('priority', us(CommandTag.Priority));
  set('status', us(CommandTag.Status));
  set('errorComment', text(CommandTag.ErrorComment));
  set('moveDestination', text(CommandTag.MoveDestination));
  set('moveOriginatorAeTitle', text(CommandTag.MoveOriginatorApplicationEntityTitle));
  set('moveOriginatorMessageId', us(CommandTag.MoveOriginatorMessageID));
  set('remaining', us(CommandTag.NumberOfRemainingSuboperations));
  set('completed', us(CommandTag.NumberOfCompletedSuboperations));
  set('failed', us(CommandTag.NumberOfFailedSuboperations));
  set('warning', us(CommandTag.NumberOfWarningSuboperations));
  return command;
}

/** Status category (PS3.7 C.1). */
export function statusKind(status: number): 'success' | 'pending' | 'cancel' | 'warning' | 'failure' {
  if (status === Status.Success) return 'success';
  if (status === Status.Pending || status === Status.PendingWarning) return 'pending';
  if (status === Status.Cancel) return 'cancel';
  if (status === 0x0001 || (status & 0xf000) === 0xb000 || status === 0x0107 || status === 0x0116) return 'warning';
  return 'failure';
}
