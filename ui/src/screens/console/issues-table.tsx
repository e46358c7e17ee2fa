import type { MessageIssue } from '../../api/engine-types.js';
import { useI18n } from '../../i18n/i18n.js';
import { issueText, type CodedIssue } from './issue-text.js';

export function IssuesTable({ issues }: { issues: (MessageIssue & CodedIssue)[] }) {
  const { t } = useI18n();
  return (
    <table className="table table-compact issues">
      <caption className="sr-only">{t('message.issues')}</caption>
      <thead>
        <tr>
          <th scope="col">{t('issue.severity')}</th>
          <th scope="col">{t('issue.stage')}</th>
          <th scope="col">{t('issue.location')}</th>
          <th scope="col">{t('issue.message')}</th>
        </tr>
      </thead>
      <tbody>
        {issues.map((issue, i) => (
          <tr key={i} className={issue.severity === 'error' ? 'row-error' : undefined}>
            <td>
              <span className={`badge badge-severity-${issue.severity}`}>{t(`issue.${issue.severity}`)}</span>
            </td>
            <td>{issue.stage}</td>
            <td className="mono">{issue.location ?? '—'}</td>
            <th scope="row" className="issue-text">
              {issueText(t, issue)}
              <div className="muted small mono">
                {issue.code}
                {issue.rule ? ` · ${issue.rule}` : ''}
              </div>
            </th>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
