// The text of a message issue in the interface's language: the engine stores, beside its English text, a stable
// code and its parameters (engine/errors.ts MessageErrorCode); a code with a translation here is worded from them.
// Issues without parameters (parser, mapping and quality-rule issues, rows stored before codes had parameters)
// keep the stored text.
import type { MessageIssue } from '../../api/engine-types.js';
import { messages, type MessageKey } from '../../i18n/messages.js';

/** The interface's `t` (i18n.tsx), as this pure module needs it. */
export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

/** The engine's issue, with the parameters of its code when it is one of the engine's own. */
export type CodedIssue = Pick<MessageIssue, 'code' | 'message'> & { params?: Record<string, string | number> };

export function issueText(t: Translate, issue: CodedIssue): string {
  if (!issue.params || typeof issue.params !== 'object') return issue.message;
  if (!(`issueCode.${issue.code}` in messages.fr)) return issue.message;
  const text = t(`issueCode.${issue.code}` as MessageKey, issue.params);
  // A translation naming a parameter the row does not carry would show `{name}`: the stored text is better.
  return /\{\w+\}/.test(text) ? issue.message : text;
}
