// The first screen of a record: what a clinician looks for first — allergies, problems, current treatments,
// the latest results (abnormal first, with their trend), the current stay, recent documents and next appointments.
import type { DocumentReference, Encounter, Observation } from '@medplum/fhirtypes';
import { useMemo } from 'react';
import { Link } from '../../app/router.js';
import { FlagMark } from '../../components/badges.js';
import { SourceLine } from '../../components/source.js';
import { Empty, ErrorState, Loading } from '../../components/states.js';
import { TrendChart } from '../../components/trend-chart.js';
import { useI18n } from '../../i18n/i18n.js';
import { analyteRows, isAbnormal, trendDirection, trendOf } from '../../lib/results.js';
import { staysOf } from '../../lib/stays.js';
import { AllergiesList, AppointmentsList, ConditionsList, MedicationsList } from './clinical-lists.js';
import { documentTitle } from './documents-tab.js';
import { sectionItems, useRecord } from './record-data.js';
import { useEventLabel } from './stays-tab.js';

const LATEST_ROWS = 8;

export function SummaryTab() {
  return (
    <div className="tab-panel summary">
      <div className="summary-main">
        <LatestResults />
        <CurrentStay />
        <RecentDocuments />
      </div>
      <div className="summary-side">
        <AllergiesList />
        <ConditionsList />
        <MedicationsList limit={10} />
        <AppointmentsList />
      </div>
    </div>
  );
}

function LatestResults() {
  const { t, fmt } = useI18n();
  const { state, patientId } = useRecord();
  const section = state.sections.observations;
  const observations = sectionItems<Observation>(section);
  const rows = useMemo(() => analyteRows(observations, fmt.tag), [observations, fmt.tag]);
  const ordered = [...rows].sort((a, b) => {
    const abnormal =
      Number(isAbnormal(b.values[0]?.flag ?? 'unknown')) - Number(isAbnormal(a.values[0]?.flag ?? 'unknown'));
    return (
      abnormal ||
      Date.parse(b.values[0]?.date ?? '') - Date.parse(a.values[0]?.date ?? '') ||
      a.label.localeCompare(b.label)
    );
  });
  return (
    <section className="card" aria-labelledby="latest-results">
      <h2 className="card-title" id="latest-results">
        {t('summary.latestResults')}
      </h2>
      {section.status === 'loading' && <Loading />}
      {section.status === 'error' && <ErrorState error={section.error} />}
      {section.status === 'ok' && rows.length === 0 && <Empty>{t('results.none')}</Empty>}
      {rows.length > 0 && (
        <table className="table latest-table">
          <caption className="sr-only">{t('summary.latestResults')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('results.analyte')}</th>
              <th scope="col" className="num">
                {t('results.latestValue')}
              </th>
              <th scope="col">{t('results.range')}</th>
              <th scope="col">{t('results.trend')}</th>
              <th scope="col">{t('results.date')}</th>
            </tr>
          </thead>
          <tbody>
            {ordered.slice(0, LATEST_ROWS).map((row) => {
              const latest = row.values[0]!;
              const trend = trendOf(row);
              const direction = trendDirection(trend.points);
              return (
                <tr key={row.key}>
                  <th scope="row">
                    <Link to={`/patients/${patientId}/results?analyte=${encodeURIComponent(row.key)}`}>
                      {row.label}
                    </Link>
                  </th>
                  <td className={isAbnormal(latest.flag) ? 'num cell-abnormal' : 'num'}>
                    <span className="latest-value">{latest.text}</span>{' '}
                    <span className="unit">{latest.unit ?? ''}</span>
                    <FlagMark flag={latest.flag} />
                  </td>
                  <td className="nowrap muted">{row.rangeText ?? ''}</td>
                  <td>
                    {trend.points.length > 1 ? (
                      <div className="trend-cell">
                        <TrendChart
                          compact
                          label={row.label}
                          points={trend.points}
                          {...(trend.low !== undefined ? { low: trend.low } : {})}
                          {...(trend.high !== undefined ? { high: trend.high } : {})}
                          {...(trend.unit ? { unit: trend.unit } : {})}
                        />
                        {direction && (
                          <span className={`direction direction-${direction}`} title={t(`trend.${direction}`)}>
                            <span aria-hidden="true">
                              {direction === 'up' ? '↗' : direction === 'down' ? '↘' : '→'}
                            </span>
                            <span className="sr-only">{t(`trend.${direction}`)}</span>
                          </span>
                        )}
                      </div>
                    ) : (
                      <span className="muted small">{t('trend.single')}</span>
                    )}
                  </td>
                  <td className="nowrap">{fmt.dateTime(latest.date)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {rows.length > LATEST_ROWS && (
        <p>
          <Link to={`/patients/${patientId}/results`}>{t('summary.allResults', { count: rows.length })}</Link>
        </p>
      )}
    </section>
  );
}

function CurrentStay() {
  const { t, fmt } = useI18n();
  const { state, patientId } = useRecord();
  const eventLabel = useEventLabel();
  const section = state.sections.encounters;
  if (section.status !== 'ok') return null;
  const { stays } = staysOf(sectionItems<Encounter>(section));
  const stay = stays[0];
  if (!stay) return null;
  const last = [...stay.movements].reverse().find((m) => !m.cancelled);
  return (
    <section className="card" aria-labelledby="last-stay">
      <h2 className="card-title" id="last-stay">
        {stay.end ? t('summary.lastStay') : t('summary.currentStay')}
      </h2>
      <p>
        {stay.identifier && (
          <span className="mono">
            <abbr title={t('stays.ndaLong')}>NDA</abbr> {stay.identifier}
          </span>
        )}{' '}
        · {fmt.dateTime(stay.start)} → {stay.end ? fmt.dateTime(stay.end) : t('stays.ongoing')}
      </p>
      {last && (
        <p className="muted">
          {t('summary.lastMovement', { event: eventLabel(last.event), date: fmt.dateTime(last.start) })}
        </p>
      )}
      <Link to={`/patients/${patientId}/stays`}>{t('summary.seeStays')}</Link>
    </section>
  );
}

function RecentDocuments() {
  const { t, fmt } = useI18n();
  const { state, patientId } = useRecord();
  const section = state.sections.documents;
  if (section.status !== 'ok') return null;
  const documents = sectionItems<DocumentReference>(section)
    .filter((d) => d.status !== 'entered-in-error')
    .slice(0, 5);
  if (documents.length === 0) return null;
  return (
    <section className="card" aria-labelledby="recent-documents">
      <h2 className="card-title" id="recent-documents">
        {t('summary.recentDocuments')}
      </h2>
      <ul className="item-list compact">
        {documents.map((doc) => (
          <li key={doc.id} className="item">
            <div className="item-head">
              <Link to={`/patients/${patientId}/documents/${doc.id}`}>
                {documentTitle(doc) ?? t('documents.untitled')}
              </Link>
              <span className="muted small">{fmt.dateTime(doc.date)}</span>
            </div>
            <SourceLine source={state.lineage.latest(`DocumentReference/${doc.id}`)} compact />
          </li>
        ))}
      </ul>
    </section>
  );
}
