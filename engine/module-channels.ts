// Channels that other hub modules run over the same message store (the DICOM channels of connectors/dicom): the
// engine's generic admin routes (replay one, several, a time range) hand their messages to the module that owns
// them, so a user of the console replays from one place. A message of such a kind whose module is not loaded is
// answered with a 409 naming the module's own route.

/** What a module's replay did, as the module reports it (the generic route returns it as `outcome`). */
export interface ModuleReplayResult {
  status: string;
  [key: string]: unknown;
}

export interface ModuleChannels {
  /** The kind of message, as people call it: `DICOM`. */
  readonly kind: string;
  /** The module's own replay route, `/admin/dicom/messages/:id/replay`. */
  readonly replayRoute: string;
  /** Whether a channel id is one of this module's channels (as stored in the message's `channel`). */
  owns(channelId: string): boolean;
  /**
   * Replays a message of one of its channels: all destinations (no destination), `store`, or one queued
   * destination. Throws an EngineError (message-not-found, destination-not-found, channel-state) when it cannot.
   */
  replay(messageId: string, options: { destination?: string; by: string }): Promise<ModuleReplayResult>;
}

/** The kinds of messages that modules other than the engine store, recognised by their message type. */
export const MODULE_MESSAGE_KINDS: readonly {
  kind: string;
  messageTypePrefix: string;
  replayRoute: string;
  module: string;
}[] = [
  { kind: 'DICOM', messageTypePrefix: 'DICOM^', replayRoute: '/admin/dicom/messages/:id/replay', module: 'dicom' },
];

/** The kind of a stored message that a module owns, from its message type (`DICOM^CT`); undefined for HL7 v2. */
export function moduleMessageKind(messageType: string | null | undefined) {
  if (!messageType) return undefined;
  return MODULE_MESSAGE_KINDS.find((k) => messageType.startsWith(k.messageTypePrefix));
}

/** The module's route for one message. */
export function replayRouteOf(route: string, messageId: string): string {
  return route.replace(':id', messageId);
}
