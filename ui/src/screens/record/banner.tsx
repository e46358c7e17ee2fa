// The identity banner, always on top of a record: who this is (usage and birth names, sex, age), the INS with its
// identity status, the IPPs, and the warnings that matter before reading further (merged record, possible
// duplicates, deceased).
import type { Patient } from '@medplum/fhirtypes';
import { Link } from '../../app/router.js';
import { useSession } from '../../app/session.js';
import { useAsync } from '../../app/use-async.js';
import { IdentityStatusBadge } from '../../components/badges.js';
import { PageHeading } from '../../components/page.js';
import { SourceLine } from '../../components/source.js';
import { useI18n } from '../../i18n/i18n.js';
import { formatIns } from '../../lib/ins.js';
import { ageOf, patientView, possibleDuplicates } from '../../lib/patient.js';
import { useRecord } from './record-data.js';

export function IdentityBanner({ patient }: { patient: Patient }) {
  const { t, fmt } = useI18n();
  const { api } = useSession();
  const { state } = useRecord();
  const view = patientView(patient);
  const age = ageOf(view.birthDate);
  const mergedInto = view.links.find((l) => l.type === 'replaced-by');
  const merged = view.links.filter((l) => l.type === 'replaces');

  // Other records that may be the same person: same birth date and a shared name.
  const duplicates = useAsync<Patient[]>(
    async (signal) => {
      if (!view.birthDate || !view.family) return [];
      const names = [...new Set([view.family, view.birthName].filter((n): n is string => Boolean(n)))];
      const found = new Map<string, Patient>();
      for (const name of names) {
        const page = await api.search<Patient>(
          'Patient',
          [
            ['birthdate', view.birthDate],
            ['name', name],
            ['_count', '20'],
          ],
          signal,
        );
        for (const p of page.matches) if (p.id && p.id !== view.id) found.set(p.id, p);
      }
      const candidates = [...found.values()];
      const pairs = possibleDuplicates([patient, ...candidates]);
      return candidates.filter((c) => pairs.get(view.id)?.includes(c.id!));
    },
    [view.id, view.birthDate, view.family, view.birthName],
  );

  return (
    <section className="banner" aria-label={t('banner.label')}>
      <div className="banner-main">
        <PageHeading title={view.displayName}>
          <span className="banner-name">{view.displayName}</span>
        </PageHeading>
        <dl className="banner-facts">
          {view.birthName && (
            <div>
              <dt>{t('patient.birthNameLabel')}</dt>
              <dd>{view.birthName}</dd>
            </div>
          )}
          <div>
            <dt>{t('patient.sex')}</dt>
            <dd>{view.gender ? t(`gender.${view.gender}`) : '—'}</dd>
          </div>
          <div>
            <dt>{t('patient.birthDate')}</dt>
            <dd>
              {fmt.date(view.birthDate)}
              {age && <span className="muted"> ({t('patient.age', { years: age.years })})</span>}
            </dd>
          </div>
          <div>
            <dt>{t('patient.ins')}</dt>
            <dd>
              {view.ins ? (
                <>
                  <span className="mono nowrap">{formatIns(view.ins.value)}</span>{' '}
                  {view.ins.kind !== 'nir' && <span className="muted small">({t(`ins.kind.${view.ins.kind}`)})</span>}
                </>
              ) : (
                <span className="muted">{t('patient.noIns')}</span>
              )}{' '}
              <IdentityStatusBadge status={view.identityStatus} />
            </dd>
          </div>
          <div>
            <dt>{t('patient.ipp')}</dt>
            <dd className="mono">
              {view.ipps
                .filter((i) => i.type === 'PI' || !i.type)
                .map((i) => i.value)
                .join(', ') || '—'}
            </dd>
          </div>
        </dl>
        <p className="banner-source small">
          <SourceLine source={state.lineage.latest(`Patient/${view.id}`)} />
        </p>
      </div>
      <div className="banner-alerts">
        {!view.active && (
          <p className="notice notice-warning" role="status">
            {t('banner.inactive')}{' '}
            {mergedInto && <Link to={`/patients/${mergedInto.patientId}`}>{t('search.openSurviving')}</Link>}
          </p>
        )}
        {view.deceased && <p className="notice notice-info">{t('banner.deceased')}</p>}
        {merged.length > 0 && (
          <p className="notice notice-info">
            {t(merged.length === 1 ? 'banner.merged.one' : 'banner.merged.other', { count: merged.length })}{' '}
            <Link to={`/patients/${view.id}/dim`}>{t('banner.identityHistory')}</Link>
          </p>
        )}
        {duplicates.status === 'ok' && duplicates.data.length > 0 && (
          <div className="notice notice-warning" role="status">
            <p>
              {t(duplicates.data.length === 1 ? 'search.duplicate.one' : 'search.duplicate.other', {
                count: duplicates.data.length,
              })}
            </p>
            <ul>
              {duplicates.data.map((d) => {
                const other = patientView(d);
                return (
                  <li key={other.id}>
                    <Link to={`/patients/${other.id}`}>{other.displayName}</Link> · {fmt.date(other.birthDate)} ·{' '}
                    {other.ipps[0]?.value ?? '—'} · <IdentityStatusBadge status={other.identityStatus} />
                  </li>
                );
              })}
            </ul>
          </div>
        )}
      </div>
    </section>
  );
}
