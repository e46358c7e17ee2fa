// The JSON of the channel engine's admin API (engine/README.md, engine/admin-routes.ts), as the console reads it.
// Declared here rather than imported: the UI builds for the browser and depends on the API, not on engine code.
import type { Bundle } from '@medplum/fhirtypes';

export const MESSAGE_STATUSES = ['received', 'filtered', 'queued', 'sent', 'error'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export type StatName =
  'received' | 'filtered' | 'errored' | 'accepted' | 'duplicate' | 'sent' | 'deliveryFailed' | 'deadLettered';

export interface ChannelAlert {
  kind: string;
  channel: string;
  destination?: string;
  message: string;
  since: string;
  value?: number;
  threshold?: number;
}

export interface ChannelDestinationStatus {
  destination: string;
  type: string;
  draining: boolean;
  consecutiveFailures: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastDeliveredAt: string | null;
  nextAttemptAt: string | null;
  pending: number;
  dead: number;
}

export interface ChannelView {
  id: string;
  name: string;
  file: string;
  state: string;
  desired: string;
  description?: string;
  source: { type: string; endpoint?: string; listening: boolean; connections?: number } | null;
  mapping: string | null;
  destinations: ChannelDestinationStatus[];
  stats: { total: Record<StatName, number>; ratePerSecond: Record<StatName, number> };
  inFlight: number;
  alerts: ChannelAlert[];
  error: string | null;
  issues: { message: string; line?: number; path?: string }[];
  pendingFileError: string | null;
}

export interface MessageSummary {
  id: string;
  receivedAt: string;
  channel: string;
  status: MessageStatus;
  source: string | null;
  sender: string | null;
  messageType: string | null;
  controlId: string | null;
  patientIds: string[];
  rawSize: number;
  ackCode: string | null;
  errorStage: string | null;
  duplicates: number;
  revision: number;
  editedFrom: string | null;
}

export interface MessageIssue {
  stage: string;
  severity: 'error' | 'warning' | 'information';
  code: string;
  message: string;
  location?: string;
  rule?: string;
  expression?: string;
  destination?: string;
}

export interface DeliveryRecord {
  seq: number;
  destination: string;
  generation: number;
  status: 'pending' | 'sent' | 'dead' | 'cancelled';
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  response: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface MessageDetail extends MessageSummary {
  rawSha256: string;
  changeSetId: string | null;
  changeSet: Bundle | null;
  errors: MessageIssue[];
  warnings: MessageIssue[];
  editNote: { by: string; reason: string } | null;
  processedAt: string | null;
  updatedAt: string;
  deliveries: DeliveryRecord[];
  edits: string[];
  raw: string | null;
  rawUrl: string;
  decoded: { segments: { index: number; name: string; fields: { position: number; value: string }[] }[] } | null;
  decodeError: { code: string; message: string } | null;
  store: { changeSetId: string; state: string; httpStatus: number | null } | null;
  resources: { reference: string; provenance: string }[];
}

export interface MessagePage {
  messages: MessageSummary[];
  next?: string;
}

export interface InboundOutcomeView {
  messageId: string | null;
  status: string;
  ack: 'AA' | 'AE' | 'AR';
  duplicate: boolean;
  errors: MessageIssue[];
}

export interface ReplayResult {
  messageId: string;
  replayed: string;
  outcome?: InboundOutcomeView;
  queued?: { destination: string; generation: number };
}

export interface EditResult {
  original: string;
  edited: string | null;
  outcome: InboundOutcomeView;
}

export interface ChannelTestResult {
  status: MessageStatus;
  ack: 'accept' | 'error' | 'reject';
  ackCode: 'AA' | 'AE' | 'AR';
  acknowledgment: string | null;
  bundle: Bundle | null;
  issues: MessageIssue[];
  filtered: string | null;
  destinations: string[];
}

export interface Principal {
  id: string;
  name: string;
  roles: string[];
}
