// Patient search: one box for an INS (any spacing), an IPP, or names + birth date. Exact matches first; when
// there are none, tolerant searches (without the date, name prefixes, names contained) marked as approximate.
import type { Patient } from '@medplum/fhirtypes';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, navigate, useLocation } from '../app/router.js';
import { useSession } from '../app/session.js';
import { useAsync } from '../app/use-async.js';
import { IdentityStatusBadge } from '../components/badges.js';
import { PageHeading } from '../components/page.js';
import { Empty, ErrorState, Loading } from '../components/states.js';
import { useI18n } from '../i18n/i18n.js';
import { formatIns, insKey } from '../lib/ins.js';
import { ageOf, patientView, possibleDuplicates } from '../lib/patient.js';
import { parsePatientQuery, patientSearchSteps, type PatientSearchStep } from '../lib/patient-query.js';

interface SearchOutcome {
  patients: Patient[];
  step: PatientSearchStep | undefined;
  more: boolean;
}

export const SEARCH_INPUT_ID = 'patient-search';

export function SearchScreen() {
  const { t, fmt } = useI18n();
  const { api } = useSession();
  const { query } = useLocation();
  const q = query.get('q') ?? '';
  const [text, setText] = useState(q);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => setText(q), [q]);

  const parsed = parsePatientQuery(q);
  const result = useAsync<SearchOutcome | undefined>(
    async (signal) => {
      const steps = patientSearchSteps(parsed);
      if (steps.length === 0) return undefined;
      for (const step of steps) {
        const page = await api.search<Patient>('Patient', step.params, signal);
        if (page.matches.length > 0) return { patients: page.matches, step, more: page.next !== undefined };
      }
      return { patients: [], step: undefined, more: false };
    },
    [q],
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = text.trim();
    navigate(value ? `/patients?q=${encodeURIComponent(value)}` : '/patients');
  };

  const duplicates = result.data ? possibleDuplicates(result.data.patients) : new Map<string, string[]>();
  const insWarning =
    parsed.kind === 'ins' && !parsed.ins.keyValid
      ? t('search.insBadKey', { expected: String(insKey(parsed.ins.value.slice(0, 13))).padStart(2, '0') })
      : undefined;

  return (
    <section className="screen screen-search">
      <div className="search-hero">
        <PageHeading title={t('search.title')} />
        <form role="search" className="search-form" onSubmit={submit} aria-label={t('search.title')}>
          <label htmlFor={SEARCH_INPUT_ID} id="search-title-label">
            {t('search.label')}
          </label>
          <div className="search-row">
            <input
              ref={input}
              id={SEARCH_INPUT_ID}
              type="search"
              value={text}
              onChange={(e) => setText(e.target.value)}
              placeholder={t('search.placeholder')}
              autoComplete="off"
              spellCheck={false}
              aria-describedby="search-help"
              autoFocus={!q}
            />
            <button type="submit" className="button button-primary">
              {t('search.submit')}
            </button>
          </div>
          <p id="search-help" className="muted small">
            {t('search.help')} <kbd>/</kbd> {t('search.shortcut')}
          </p>
        </form>
      </div>

      {q && (
        <div className="search-results" aria-live="polite" aria-busy={result.status === 'loading'}>
          {parsed.kind === 'ins' && (
            <p className="muted">
              {t('search.readAsIns', { ins: formatIns(parsed.ins.value) })}
              {parsed.ins.keyComputed ? ` ${t('search.insKeyComputed')}` : ''}
            </p>
          )}
          {parsed.kind === 'demographics' && (
            <p className="muted">
              {t('search.readAsDemographics', {
                names: parsed.words.join(' ') || '—',
                date: parsed.birthDate ? fmt.date(parsed.birthDate) : (parsed.birthYear ?? '—'),
              })}
            </p>
          )}
          {parsed.kind === 'identifier' && (
            <p className="muted">{t('search.readAsIdentifier', { value: parsed.value })}</p>
          )}
          {insWarning && (
            <p className="notice notice-warning" role="alert">
              {insWarning}
            </p>
          )}
          {result.status === 'loading' && <Loading label={t('search.searching')} />}
          {result.status === 'error' && <ErrorState error={result.error} onRetry={result.reload} />}
          {result.status === 'ok' && result.data && result.data.patients.length === 0 && (
            <Empty>{t('search.none')}</Empty>
          )}
          {result.status === 'ok' && result.data && result.data.patients.length > 0 && (
            <>
              {result.data.step?.approximate && (
                <p className="notice notice-info" role="status">
                  {t('search.approximate')}{' '}
                  {result.data.step.relaxed ? t(`search.relaxed.${result.data.step.relaxed}`) : ''}
                </p>
              )}
              <h2 className="section-title">
                {t(result.data.patients.length === 1 ? 'search.count.one' : 'search.count.other', {
                  count: result.data.patients.length,
                })}
                {result.data.more ? ` ${t('search.more')}` : ''}
              </h2>
              <table className="table patients-table">
                <caption className="sr-only">{t('search.caption')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('patient.name')}</th>
                    <th scope="col">{t('patient.birthDate')}</th>
                    <th scope="col">{t('patient.sex')}</th>
                    <th scope="col">{t('patient.ins')}</th>
                    <th scope="col">{t('patient.ipp')}</th>
                    <th scope="col">{t('search.notes')}</th>
                  </tr>
                </thead>
                <tbody>
                  {result.data.patients.map((patient) => {
                    const view = patientView(patient);
                    const age = ageOf(view.birthDate);
                    const dups = duplicates.get(view.id) ?? [];
                    const mergedInto = view.links.find((l) => l.type === 'replaced-by');
                    return (
                      <tr key={view.id} className={view.active ? undefined : 'row-inactive'}>
                        <th scope="row">
                          <Link to={`/patients/${view.id}`} className="patient-link">
                            {view.displayName}
                          </Link>
                          {view.birthName && (
                            <div className="muted small">
                              {t(view.gender === 'male' ? 'patient.bornMale' : 'patient.bornFemale', {
                                name: view.birthName,
                              })}
                            </div>
                          )}
                        </th>
                        <td>
                          {fmt.date(view.birthDate)}
                          {age && <div className="muted small">{t('patient.age', { years: age.years })}</div>}
                        </td>
                        <td>{view.gender ? t(`gender.${view.gender}`) : '—'}</td>
                        <td>
                          {view.ins ? (
                            <span className="mono nowrap">{formatIns(view.ins.value)}</span>
                          ) : (
                            <span className="muted">{t('patient.noIns')}</span>
                          )}
                          <div>
                            <IdentityStatusBadge status={view.identityStatus} />
                          </div>
                        </td>
                        <td className="mono">
                          {view.ipps
                            .filter((i) => i.type === 'PI' || !i.type)
                            .map((i) => i.value)
                            .join(', ') || '—'}
                        </td>
                        <td>
                          {mergedInto && (
                            <p className="note note-merged">
                              {t('search.mergedInto')}{' '}
                              <Link to={`/patients/${mergedInto.patientId}`}>{t('search.openSurviving')}</Link>
                            </p>
                          )}
                          {dups.length > 0 && (
                            <p className="note note-duplicate">
                              {t(dups.length === 1 ? 'search.duplicate.one' : 'search.duplicate.other', {
                                count: dups.length,
                              })}
                            </p>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </>
          )}
        </div>
      )}
    </section>
  );
}
