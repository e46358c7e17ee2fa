// Short lists of the record: allergies, problems (conditions), medications, orders, appointments — each item with
// its date, its status and where it came from.
import type {
  AllergyIntolerance,
  Appointment,
  Condition,
  MedicationRequest,
  Resource,
  ServiceRequest,
} from '@medplum/fhirtypes';
import type { ReactNode } from 'react';
import { SourceLine } from '../../components/source.js';
import { Empty, ErrorState, Loading } from '../../components/states.js';
import { useI18n } from '../../i18n/i18n.js';
import { clinicalStatusCode, codingOf, conceptLabel, referenceLabel } from '../../lib/display.js';
import type { CodeableConcept } from '@medplum/fhirtypes';
import type { Translate } from '../../i18n/i18n.js';

function statusLabel(t: Translate, concept: CodeableConcept | undefined): string | undefined {
  const code = clinicalStatusCode(concept);
  return code ? t(`clinical.${code}`) : conceptLabel(concept);
}
import { sectionItems, useRecord, type SectionKey } from './record-data.js';

export const CIM10_PREFIX = 'https://smt.esante.gouv.fr/terminologie-cim-10';
export const CCAM_PREFIX = 'https://smt.esante.gouv.fr/terminologie-ccam';

function SectionList<T extends Resource>({
  section,
  title,
  empty,
  render,
  limit,
}: {
  section: SectionKey;
  title: string;
  empty: string;
  render: (item: T) => ReactNode;
  limit?: number;
}) {
  const { state } = useRecord();
  const s = state.sections[section];
  const items = sectionItems<T>(s);
  const shown = limit ? items.slice(0, limit) : items;
  return (
    <section className="card" aria-label={title}>
      <h3 className="card-title">
        {title} {s.status === 'ok' && <span className="count">{items.length}</span>}
      </h3>
      {s.status === 'loading' && <Loading />}
      {s.status === 'error' && <ErrorState error={s.error} />}
      {s.status === 'ok' && items.length === 0 && <Empty>{empty}</Empty>}
      {s.status === 'ok' && items.length > 0 && (
        <ul className="item-list compact">
          {shown.map((item) => (
            <li key={item.id} className="item">
              {render(item)}
              <SourceLine source={state.lineage.latest(`${item.resourceType}/${item.id}`)} compact />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function AllergiesList() {
  const { t, fmt } = useI18n();
  return (
    <SectionList<AllergyIntolerance>
      section="allergies"
      title={t('allergies.title')}
      empty={t('allergies.none')}
      render={(a) => (
        <div className="item-head">
          <span className="item-title">
            {conceptLabel(a.code) ?? t('allergies.unnamed')}
            {a.criticality === 'high' && <span className="badge badge-danger">{t('allergies.high')}</span>}
          </span>
          <span className="muted small">
            {a.reaction?.[0]?.manifestation
              ?.map((m) => conceptLabel(m))
              .filter(Boolean)
              .join(', ')}{' '}
            {fmt.date(a.recordedDate ?? a.onsetDateTime)}
            {a.verificationStatus && ` · ${statusLabel(t, a.verificationStatus)}`}
          </span>
        </div>
      )}
    />
  );
}

export function ConditionsList() {
  const { t, fmt } = useI18n();
  return (
    <SectionList<Condition>
      section="conditions"
      title={t('conditions.title')}
      empty={t('conditions.none')}
      render={(c) => {
        const cim = codingOf(c.code, CIM10_PREFIX);
        return (
          <div className="item-head">
            <span className="item-title">
              {conceptLabel(c.code) ?? '—'} {cim && <span className="code">CIM-10 {cim.code}</span>}
            </span>
            <span className="muted small">
              {fmt.date(c.recordedDate ?? c.onsetDateTime)}{' '}
              {c.clinicalStatus && `· ${statusLabel(t, c.clinicalStatus)}`}
            </span>
          </div>
        );
      }}
    />
  );
}

export function MedicationsList({ limit }: { limit?: number }) {
  const { t, fmt } = useI18n();
  return (
    <SectionList<MedicationRequest>
      section="medications"
      title={t('medications.title')}
      empty={t('medications.none')}
      {...(limit ? { limit } : {})}
      render={(m) => (
        <div className="item-head">
          <span className="item-title">
            {conceptLabel(m.medicationCodeableConcept) ?? m.medicationReference?.display ?? '—'}
          </span>
          <span className="muted small">
            {m.dosageInstruction?.[0]?.text ?? ''} {fmt.date(m.authoredOn)} · {t(`request.status.${m.status}`)}
          </span>
        </div>
      )}
    />
  );
}

export function OrdersList() {
  const { t, fmt } = useI18n();
  const { state } = useRecord();
  return (
    <SectionList<ServiceRequest>
      section="orders"
      title={t('orders.title')}
      empty={t('orders.none')}
      render={(o) => (
        <div className="item-head">
          <span className="item-title">{conceptLabel(o.code) ?? '—'}</span>
          <span className="muted small">
            {fmt.dateTime(o.authoredOn ?? o.occurrenceDateTime)} · {t(`request.status.${o.status}`)}
            {o.requester && ` · ${referenceLabel(o.requester, state.referenced) ?? ''}`}
            {o.identifier?.[0]?.value && <span className="mono"> · {o.identifier[0].value}</span>}
          </span>
        </div>
      )}
    />
  );
}

export function AppointmentsList() {
  const { t, fmt } = useI18n();
  const { state } = useRecord();
  return (
    <SectionList<Appointment>
      section="appointments"
      title={t('appointments.title')}
      empty={t('appointments.none')}
      render={(a) => (
        <div className="item-head">
          <span className="item-title">
            {fmt.dateTime(a.start)} ·{' '}
            {conceptLabel(a.serviceType?.[0]) ??
              conceptLabel(a.appointmentType) ??
              conceptLabel(a.reasonCode?.[0]) ??
              '—'}
          </span>
          <span className="muted small">
            {t(`appointment.status.${a.status}`)}
            {a.minutesDuration ? ` · ${t('appointments.minutes', { count: a.minutesDuration })}` : ''}
            {a.participant
              ?.filter((p) => p.actor?.reference && !p.actor.reference.startsWith('Patient/'))
              .map((p) => referenceLabel(p.actor, state.referenced))
              .filter(Boolean)
              .map((label) => ` · ${label}`)
              .join('')}
          </span>
        </div>
      )}
    />
  );
}

export function OrdersTab() {
  const { t } = useI18n();
  return (
    <div className="tab-panel">
      <h2 className="section-title">{t('orders.tabTitle')}</h2>
      <div className="grid-2">
        <OrdersList />
        <MedicationsList />
        <AppointmentsList />
      </div>
    </div>
  );
}
