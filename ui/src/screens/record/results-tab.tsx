// Results: the cumulative table (one row per analyte, one column per collection time, units, reference ranges,
// abnormal flags), the trend of the chosen analyte, the detail of one value with the message it came from, and
// the reports.
import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { useMemo, useState } from 'react';
import { navigate, useLocation } from '../../app/router.js';
import { Dialog } from '../../components/dialog.js';
import { FlagMark } from '../../components/badges.js';
import { SourceLine } from '../../components/source.js';
import { Empty, ErrorState, Loading } from '../../components/states.js';
import { TrendChart } from '../../components/trend-chart.js';
import { useI18n } from '../../i18n/i18n.js';
import { conceptLabel, referenceLabel } from '../../lib/display.js';
import {
  analyteRows,
  isAbnormal,
  resultDates,
  resultValue,
  trendOf,
  type AnalyteRow,
  type ResultValue,
} from '../../lib/results.js';
import { sectionItems, useRecord } from './record-data.js';

const VISIBLE_DATES = 6;

export function ResultsTab() {
  const { t, fmt } = useI18n();
  const { state } = useRecord();
  const { query, path } = useLocation();
  const [allDates, setAllDates] = useState(false);
  const [detail, setDetail] = useState<{ row: AnalyteRow; value: ResultValue } | undefined>();
  const section = state.sections.observations;
  const observations = sectionItems<Observation>(section);
  const rows = useMemo(() => analyteRows(observations, fmt.tag), [observations, fmt.tag]);
  const dates = useMemo(() => resultDates(rows), [rows]);
  const shownDates = allDates ? dates : dates.slice(0, VISIBLE_DATES);
  const selectedKey = query.get('analyte');
  const selected = rows.find((r) => r.key === selectedKey);
  const observationById = useMemo(() => new Map(observations.map((o) => [o.id, o])), [observations]);

  const select = (row: AnalyteRow) => {
    const next = new URLSearchParams(query);
    next.set('analyte', row.key);
    navigate(`${path}?${next.toString()}`, { replace: true });
  };

  if (section.status === 'loading') return <Loading />;
  if (section.status === 'error') return <ErrorState error={section.error} />;

  return (
    <div className="tab-panel">
      <h2 className="section-title">{t('results.title')}</h2>
      {section.truncated && <p className="notice notice-info">{t('results.truncated')}</p>}
      {rows.length === 0 ? (
        <Empty>{t('results.none')}</Empty>
      ) : (
        <>
          <div className="table-scroll" role="region" aria-label={t('results.tableLabel')} tabIndex={0}>
            <table className="table results-table">
              <caption className="sr-only">{t('results.caption')}</caption>
              <thead>
                <tr>
                  <th scope="col" className="sticky-col">
                    {t('results.analyte')}
                  </th>
                  {shownDates.map((date) => (
                    <th scope="col" key={date} className="num">
                      <span className="nowrap">{fmt.date(date)}</span>
                      <div className="muted small">{fmt.time(date)}</div>
                    </th>
                  ))}
                  <th scope="col">{t('results.unit')}</th>
                  <th scope="col">{t('results.range')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.key} className={row.key === selectedKey ? 'row-selected' : undefined}>
                    <th scope="row" className="sticky-col">
                      <button
                        type="button"
                        className="link-button"
                        onClick={() => select(row)}
                        aria-pressed={row.key === selectedKey}
                        title={t('results.showTrend')}
                      >
                        {row.label}
                      </button>
                      {row.loinc && <div className="muted small">LOINC {row.loinc}</div>}
                    </th>
                    {shownDates.map((date) => {
                      const value = row.values.find((v) => v.date === date);
                      return (
                        <td key={date} className={value && isAbnormal(value.flag) ? 'num cell-abnormal' : 'num'}>
                          {value ? (
                            <button
                              type="button"
                              className="value-button"
                              onClick={() => setDetail({ row, value })}
                              aria-label={t('results.valueDetail', {
                                label: row.label,
                                value: value.text,
                                date: fmt.dateTime(date),
                              })}
                            >
                              {value.text}
                              <FlagMark flag={value.flag} />
                            </button>
                          ) : (
                            <span className="muted">
                              <span aria-hidden="true">·</span>
                              <span className="sr-only">{t('results.noValue')}</span>
                            </span>
                          )}
                        </td>
                      );
                    })}
                    <td>{row.unit ?? ''}</td>
                    <td className="nowrap">{row.rangeText ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {dates.length > VISIBLE_DATES && (
            <button type="button" className="button button-quiet" onClick={() => setAllDates(!allDates)}>
              {allDates ? t('results.fewerDates') : t('results.allDates', { count: dates.length })}
            </button>
          )}
          <section className="card trend-card" aria-label={t('results.trendSection')}>
            {selected ? (
              <AnalyteTrend row={selected} onDetail={(value) => setDetail({ row: selected, value })} />
            ) : (
              <p className="muted">{t('results.pickAnalyte')}</p>
            )}
          </section>
        </>
      )}
      <Reports observations={observationById} />
      <Dialog title={detail ? detail.row.label : ''} open={detail !== undefined} onClose={() => setDetail(undefined)}>
        {detail && (
          <ResultDetail
            row={detail.row}
            value={detail.value}
            observation={observationById.get(detail.value.observationId)}
          />
        )}
      </Dialog>
    </div>
  );
}

function AnalyteTrend({ row, onDetail }: { row: AnalyteRow; onDetail: (value: ResultValue) => void }) {
  const { t, fmt } = useI18n();
  const trend = trendOf(row);
  const latest = row.values[0];
  return (
    <>
      <h3 className="card-title">
        {t('results.trendOf', { label: row.label })}
        {latest && (
          <span className="trend-latest">
            {' · '}
            {t('results.latest')} <strong>{latest.text}</strong> {row.unit ?? ''} <FlagMark flag={latest.flag} />
          </span>
        )}
      </h3>
      <TrendChart
        label={row.label}
        points={trend.points}
        {...(trend.low !== undefined ? { low: trend.low } : {})}
        {...(trend.high !== undefined ? { high: trend.high } : {})}
        {...(trend.unit ? { unit: trend.unit } : {})}
      />
      <table className="table table-compact">
        <caption className="sr-only">{t('results.valuesOf', { label: row.label })}</caption>
        <thead>
          <tr>
            <th scope="col">{t('results.date')}</th>
            <th scope="col" className="num">
              {t('results.value')}
            </th>
            <th scope="col">{t('results.range')}</th>
            <th scope="col">{t('results.status')}</th>
          </tr>
        </thead>
        <tbody>
          {row.values.map((value) => (
            <tr key={value.observationId}>
              <td>{fmt.dateTime(value.date)}</td>
              <td className={isAbnormal(value.flag) ? 'num cell-abnormal' : 'num'}>
                <button type="button" className="value-button" onClick={() => onDetail(value)}>
                  {value.text} {value.unit ?? ''}
                  <FlagMark flag={value.flag} />
                </button>
              </td>
              <td>{value.rangeText ?? ''}</td>
              <td>{value.status ? t(`observation.status.${value.status}`) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function ResultDetail({
  row,
  value,
  observation,
}: {
  row: AnalyteRow;
  value: ResultValue;
  observation: Observation | undefined;
}) {
  const { t, fmt } = useI18n();
  const { state } = useRecord();
  const source = state.lineage.latest(`Observation/${value.observationId}`);
  return (
    <div className="detail">
      <p className="detail-value">
        <strong>{value.text}</strong> {value.unit ?? ''} <FlagMark flag={value.flag} />
      </p>
      <dl className="facts">
        <dt>{t('results.date')}</dt>
        <dd>{fmt.dateTime(value.date)}</dd>
        <dt>{t('results.range')}</dt>
        <dd>{value.rangeText ?? '—'}</dd>
        <dt>{t('results.flag')}</dt>
        <dd>{t(`flag.${value.flag}`)}</dd>
        <dt>{t('results.status')}</dt>
        <dd>{value.status ? t(`observation.status.${value.status}`) : '—'}</dd>
        <dt>{t('results.code')}</dt>
        <dd>
          {row.loinc ? `LOINC ${row.loinc}` : ''} {row.localCode ? `· ${t('results.localCode')} ${row.localCode}` : ''}
        </dd>
        {observation?.performer?.[0] && (
          <>
            <dt>{t('results.performer')}</dt>
            <dd>{referenceLabel(observation.performer[0], state.referenced) ?? '—'}</dd>
          </>
        )}
        {value.notes.length > 0 && (
          <>
            <dt>{t('results.notes')}</dt>
            <dd>
              {value.notes.map((n) => (
                <p key={n}>{n}</p>
              ))}
            </dd>
          </>
        )}
        <dt>{t('source.label')}</dt>
        <dd>
          <SourceLine source={source} compact />
          {source?.recorded && (
            <div className="muted small">{t('source.recorded', { date: fmt.dateTime(source.recorded) })}</div>
          )}
        </dd>
      </dl>
    </div>
  );
}

function Reports({ observations }: { observations: Map<string | undefined, Observation> }) {
  const { t, fmt } = useI18n();
  const { state } = useRecord();
  const section = state.sections.reports;
  if (section.status !== 'ok') return null;
  const reports = sectionItems<DiagnosticReport>(section);
  if (reports.length === 0) return null;
  return (
    <section className="reports" aria-labelledby="reports-title">
      <h2 className="section-title" id="reports-title">
        {t('reports.title')}
      </h2>
      <ul className="item-list">
        {reports.map((report) => {
          const documents = (report.presentedForm ?? []).length;
          const values = (report.result ?? [])
            .map((r) => observations.get(r.reference?.replace(/^Observation\//, '')))
            .filter((o): o is Observation => o !== undefined);
          return (
            <li key={report.id} className="item">
              <div className="item-head">
                <span className="item-title">{conceptLabel(report.code) ?? t('reports.untitled')}</span>
                <span className="muted">{fmt.dateTime(report.effectiveDateTime ?? report.issued)}</span>
              </div>
              <div className="item-meta">
                {report.status && <span className="badge badge-neutral">{t(`report.status.${report.status}`)}</span>}
                {documents > 0 && ` · ${t('reports.hasDocument')}`}
                {report.conclusion && <p>{report.conclusion}</p>}
              </div>
              {values.length > 0 && (
                <ul className="report-values" aria-label={t('reports.valuesLabel')}>
                  {values.map((o) => {
                    const value = resultValue(o, fmt.tag);
                    return (
                      <li key={o.id} className={isAbnormal(value.flag) ? 'cell-abnormal' : undefined}>
                        <span className="report-value-label">{conceptLabel(o.code)}</span> {value.text}{' '}
                        {value.unit ?? ''}
                        <FlagMark flag={value.flag} />
                      </li>
                    );
                  })}
                </ul>
              )}
              <SourceLine source={state.lineage.latest(`DiagnosticReport/${report.id}`)} compact />
            </li>
          );
        })}
      </ul>
    </section>
  );
}
