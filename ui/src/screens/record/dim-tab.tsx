// The DIM view (département d'information médicale): stays with their movements and units, diagnoses (CIM-10) and
// acts (CCAM) with their codes and stays, and the identity history — every version of the patient's identity,
// what changed, which message changed it, and the records merged into or linked to this one.
import type { Bundle, ChargeItem, CodeableConcept, Condition, Encounter, Patient, Procedure } from '@medplum/fhirtypes';
import { Link } from '../../app/router.js';
import { useSession } from '../../app/session.js';
import { useAsync } from '../../app/use-async.js';
import { IdentityStatusBadge } from '../../components/badges.js';
import { SourceLine } from '../../components/source.js';
import { Empty, ErrorState, Loading } from '../../components/states.js';
import { useI18n } from '../../i18n/i18n.js';
import { codingOf, conceptLabel, referenceLabel } from '../../lib/display.js';
import { formatIns } from '../../lib/ins.js';
import { patientView } from '../../lib/patient.js';
import { staysOf } from '../../lib/stays.js';
import { CCAM_PREFIX, CIM10_PREFIX } from './clinical-lists.js';
import { sectionItems, useRecord } from './record-data.js';
import { StaysTab } from './stays-tab.js';

export function DimTab() {
  const { t } = useI18n();
  return (
    <div className="tab-panel dim">
      <h2 className="section-title">{t('dim.title')}</h2>
      <div className="dim-grid">
        <section aria-labelledby="dim-stays">
          <h3 className="subsection-title" id="dim-stays">
            {t('dim.stays')}
          </h3>
          <StaysTab dim />
        </section>
        <div>
          <Diagnoses />
          <Acts />
        </div>
      </div>
      <IdentityHistory />
    </div>
  );
}

function useStayLabel(): (reference: string | undefined) => string {
  const { state } = useRecord();
  const encounters = sectionItems<Encounter>(state.sections.encounters);
  const { stays } = staysOf(encounters);
  return (reference) => {
    if (!reference?.startsWith('Encounter/')) return '—';
    const id = reference.slice('Encounter/'.length);
    const stay = stays.find((s) => s.id === id || s.movements.some((m) => m.id === id));
    return stay?.identifier ? `NDA ${stay.identifier}` : '—';
  };
}

function Diagnoses() {
  const { t, fmt } = useI18n();
  const { state } = useRecord();
  const stayLabel = useStayLabel();
  const section = state.sections.conditions;
  // HL7's condition categories in the interface's language (a Condition mapped from DG1 carries only the coding).
  const categoryLabel = (category: CodeableConcept | undefined) => {
    const code = codingOf(category, 'http://terminology.hl7.org/CodeSystem/condition-category')?.code;
    if (code === 'encounter-diagnosis' || code === 'problem-list-item') return t(`dim.category.${code}`);
    return conceptLabel(category);
  };
  const conditions = sectionItems<Condition>(section);
  return (
    <section className="card" aria-labelledby="dim-diagnoses">
      <h3 className="card-title" id="dim-diagnoses">
        {t('dim.diagnoses')}
      </h3>
      {section.status === 'loading' && <Loading />}
      {section.status === 'error' && <ErrorState error={section.error} />}
      {section.status === 'ok' && conditions.length === 0 && <Empty>{t('dim.noDiagnoses')}</Empty>}
      {conditions.length > 0 && (
        <div className="table-scroll" role="region" aria-label={t('dim.diagnoses')} tabIndex={0}>
          <table className="table table-compact">
            <caption className="sr-only">{t('dim.diagnoses')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('dim.code')}</th>
                <th scope="col">{t('dim.label')}</th>
                <th scope="col">{t('dim.kind')}</th>
                <th scope="col">{t('dim.stay')}</th>
                <th scope="col">{t('dim.date')}</th>
                <th scope="col">{t('source.label')}</th>
              </tr>
            </thead>
            <tbody>
              {conditions.map((c) => {
                const cim = codingOf(c.code, CIM10_PREFIX);
                return (
                  <tr key={c.id}>
                    <td className="mono">{cim ? `${cim.code}` : (c.code?.coding?.[0]?.code ?? '—')}</td>
                    <th scope="row">{cim?.display ?? conceptLabel(c.code) ?? '—'}</th>
                    <td>{c.category?.find((cat) => cat.text)?.text ?? categoryLabel(c.category?.[0]) ?? '—'}</td>
                    <td>{stayLabel(c.encounter?.reference)}</td>
                    <td className="nowrap">{fmt.date(c.recordedDate ?? c.onsetDateTime)}</td>
                    <td>
                      <SourceLine source={state.lineage.latest(`Condition/${c.id}`)} compact />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Acts() {
  const { t, fmt } = useI18n();
  const { state } = useRecord();
  const stayLabel = useStayLabel();
  const procedures = sectionItems<Procedure>(state.sections.procedures);
  const charges = sectionItems<ChargeItem>(state.sections.charges);
  const loading = state.sections.procedures.status === 'loading' || state.sections.charges.status === 'loading';
  const rows = [
    ...procedures.map((p) => ({
      key: `Procedure/${p.id}`,
      code: p.code,
      date: p.performedDateTime ?? p.performedPeriod?.start,
      encounter: p.encounter?.reference,
      performer: p.performer?.[0]?.actor,
      kind: t('dim.procedure'),
    })),
    ...charges.map((c) => ({
      key: `ChargeItem/${c.id}`,
      code: c.code,
      date: c.occurrenceDateTime ?? c.occurrencePeriod?.start,
      encounter: c.context?.reference,
      performer: c.performer?.[0]?.actor,
      kind: t('dim.charge'),
    })),
  ].sort((a, b) => Date.parse(b.date ?? '') - Date.parse(a.date ?? ''));
  return (
    <section className="card" aria-labelledby="dim-acts">
      <h3 className="card-title" id="dim-acts">
        {t('dim.acts')}
      </h3>
      {loading && <Loading />}
      {!loading && rows.length === 0 && <Empty>{t('dim.noActs')}</Empty>}
      {rows.length > 0 && (
        <div className="table-scroll" role="region" aria-label={t('dim.acts')} tabIndex={0}>
          <table className="table table-compact">
            <caption className="sr-only">{t('dim.acts')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('dim.code')}</th>
                <th scope="col">{t('dim.label')}</th>
                <th scope="col">{t('dim.kind')}</th>
                <th scope="col">{t('dim.stay')}</th>
                <th scope="col">{t('dim.performer')}</th>
                <th scope="col">{t('dim.date')}</th>
                <th scope="col">{t('source.label')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const ccam = codingOf(row.code, CCAM_PREFIX);
                return (
                  <tr key={row.key}>
                    <td className="mono">{ccam?.code ?? row.code?.coding?.[0]?.code ?? '—'}</td>
                    <th scope="row">{ccam?.display ?? conceptLabel(row.code) ?? '—'}</th>
                    <td>{row.kind}</td>
                    <td>{stayLabel(row.encounter)}</td>
                    <td>{referenceLabel(row.performer, state.referenced) ?? '—'}</td>
                    <td className="nowrap">{fmt.dateTime(row.date)}</td>
                    <td>
                      <SourceLine source={state.lineage.latest(row.key)} compact />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

interface IdentityVersion {
  version: string;
  lastUpdated?: string;
  patient: Patient;
  changes: string[];
}

function identityFacts(patient: Patient): Record<string, string> {
  const view = patientView(patient);
  return {
    name: view.displayName,
    birthName: view.birthName ?? '',
    birthDate: view.birthDate ?? '',
    gender: view.gender ?? '',
    ins: view.ins?.value ?? '',
    status: view.identityStatus ?? '',
    ipp: view.ipps.map((i) => i.value).join(','),
    active: String(view.active),
    links: view.links.map((l) => `${l.type}:${l.patientId}`).join(','),
  };
}

function IdentityHistory() {
  const { t, fmt } = useI18n();
  const { api } = useSession();
  const { state, patientId } = useRecord();
  const history = useAsync<{ versions: IdentityVersion[]; linked: Patient[] }>(
    async (signal) => {
      const bundle = await api.fhir<Bundle>(`Patient/${patientId}/_history?_count=100`, signal);
      const patients = (bundle.entry ?? [])
        .map((e) => e.resource)
        .filter((r): r is Patient => r?.resourceType === 'Patient');
      const chronological = [...patients].sort(
        (a, b) => Number(a.meta?.versionId ?? 0) - Number(b.meta?.versionId ?? 0),
      );
      const versions: IdentityVersion[] = chronological.map((patient, i) => {
        const before = i > 0 ? identityFacts(chronological[i - 1]!) : undefined;
        const after = identityFacts(patient);
        const changes = before ? Object.keys(after).filter((k) => after[k] !== before[k]) : ['created'];
        return {
          version: patient.meta?.versionId ?? String(i + 1),
          ...(patient.meta?.lastUpdated ? { lastUpdated: patient.meta.lastUpdated } : {}),
          patient,
          changes,
        };
      });
      const current = chronological[chronological.length - 1];
      const linkedIds = (current?.link ?? [])
        .map((l) => l.other.reference?.replace(/^Patient\//, ''))
        .filter((id): id is string => Boolean(id));
      const linked = linkedIds.length
        ? (await api.search<Patient>('Patient', [['_id', linkedIds.join(',')]], signal)).matches
        : [];
      return { versions: versions.reverse(), linked };
    },
    [patientId, state.version > 0],
  );
  return (
    <section className="card" aria-labelledby="dim-identity">
      <h3 className="card-title" id="dim-identity">
        {t('dim.identityHistory')}
      </h3>
      {history.status === 'loading' && <Loading />}
      {history.status === 'error' && <ErrorState error={history.error} onRetry={history.reload} />}
      {history.status === 'ok' && (
        <>
          {history.data.linked.length > 0 && (
            <div className="linked">
              <h4>{t('dim.linked')}</h4>
              <ul>
                {history.data.linked.map((p) => {
                  const view = patientView(p);
                  const link = patientView(state.patient.status === 'ok' ? state.patient.patient : p).links.find(
                    (l) => l.patientId === view.id,
                  );
                  return (
                    <li key={view.id}>
                      <strong>
                        {t(
                          `link.${link?.type === 'replaces' ? 'replaces' : link?.type === 'replaced-by' ? 'replaced-by' : 'other'}`,
                        )}
                      </strong>{' '}
                      : <Link to={`/patients/${view.id}`}>{view.displayName}</Link> · IPP{' '}
                      <span className="mono">{view.ipps.map((i) => i.value).join(', ') || '—'}</span> ·{' '}
                      <IdentityStatusBadge status={view.identityStatus} />
                      <div className="small">
                        <SourceLine source={state.lineage.latest(`Patient/${view.id}`)} compact />
                      </div>
                    </li>
                  );
                })}
              </ul>
            </div>
          )}
          <div className="table-scroll" role="region" aria-label={t('dim.identityHistory')} tabIndex={0}>
            <table className="table table-compact">
              <caption className="sr-only">{t('dim.identityHistory')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('dim.version')}</th>
                  <th scope="col">{t('dim.date')}</th>
                  <th scope="col">{t('dim.identity')}</th>
                  <th scope="col">{t('dim.changes')}</th>
                  <th scope="col">{t('source.label')}</th>
                </tr>
              </thead>
              <tbody>
                {history.data.versions.map((v) => {
                  const view = patientView(v.patient);
                  const source = state.lineage.sources(`Patient/${patientId}`).find((s) => s.version === v.version);
                  return (
                    <tr key={v.version}>
                      <td>v{v.version}</td>
                      <td className="nowrap">{fmt.dateTime(v.lastUpdated)}</td>
                      <th scope="row">
                        {view.displayName} · {fmt.date(view.birthDate)}
                        <div className="small">
                          {view.ins ? <span className="mono">{formatIns(view.ins.value)}</span> : t('patient.noIns')}{' '}
                          <IdentityStatusBadge status={view.identityStatus} />
                        </div>
                      </th>
                      <td>
                        {v.changes.map((c) => t(`dim.change.${c as 'created'}`)).join(', ') || t('dim.change.none')}
                      </td>
                      <td>
                        <SourceLine source={source} compact />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
