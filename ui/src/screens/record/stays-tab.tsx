// The patient's journey: stays (NDA) with their movements in time order — admission, transfers, leaves, returns,
// discharge — each with its medical and care units and the message it came from. Cancelled movements stay
// visible, struck through, as the DIM needs to see them.
import type { Encounter } from '@medplum/fhirtypes';
import { SourceLine } from '../../components/source.js';
import { Empty, ErrorState, Loading } from '../../components/states.js';
import { useI18n } from '../../i18n/i18n.js';
import type { MessageKey } from '../../i18n/messages.js';
import { referenceLabel } from '../../lib/display.js';
import { staysOf, type StayView } from '../../lib/stays.js';
import { sectionItems, useRecord } from './record-data.js';

const KNOWN_EVENTS = [
  'A01',
  'A02',
  'A03',
  'A04',
  'A05',
  'A06',
  'A07',
  'A11',
  'A12',
  'A13',
  'A21',
  'A22',
  'A38',
  'A52',
  'A53',
  'A54',
  'A55',
  'Z80',
  'Z81',
  'Z84',
  'Z85',
];

export function useEventLabel(): (event: string | undefined) => string {
  const { t } = useI18n();
  return (event) => (event && KNOWN_EVENTS.includes(event) ? `${t(`event.${event}` as MessageKey)}` : (event ?? '—'));
}

export function StaysTab({ dim = false }: { dim?: boolean }) {
  const { t } = useI18n();
  const { state } = useRecord();
  const section = state.sections.encounters;
  if (section.status === 'loading') return <Loading />;
  if (section.status === 'error') return <ErrorState error={section.error} />;
  const { stays, unidentified } = staysOf(sectionItems<Encounter>(section));
  return (
    <div className={dim ? '' : 'tab-panel'}>
      {!dim && <h2 className="section-title">{t('stays.title')}</h2>}
      {stays.length === 0 ? (
        <Empty>{t('stays.none')}</Empty>
      ) : (
        stays.map((stay) => <Stay key={stay.id} stay={stay} dim={dim} />)
      )}
      {unidentified.length > 0 && !dim && (
        <details className="card">
          <summary>
            {t(unidentified.length === 1 ? 'stays.unidentified.one' : 'stays.unidentified.other', {
              count: unidentified.length,
            })}
          </summary>
          <p className="muted small">{t('stays.unidentifiedHelp')}</p>
        </details>
      )}
    </div>
  );
}

function Stay({ stay, dim }: { stay: StayView; dim: boolean }) {
  const { t, fmt } = useI18n();
  const { state } = useRecord();
  const eventLabel = useEventLabel();
  const unit = (ref: string | undefined) =>
    ref ? (referenceLabel(ref, state.referenced) ?? t('stays.unknownUnit')) : '—';
  return (
    <section className="card stay" aria-label={t('stays.stayLabel', { id: stay.identifier ?? stay.id })}>
      <div className="stay-head">
        <h3 className="card-title">
          {t('stays.stay')}{' '}
          {stay.identifier && (
            <span className="mono">
              <abbr title={t('stays.ndaLong')}>NDA</abbr> {stay.identifier}
            </span>
          )}
        </h3>
        <span className={`badge badge-encounter-${stay.status}`}>{t(`encounter.status.${stay.status}`)}</span>
      </div>
      <p className="stay-period">
        {fmt.dateTime(stay.start)} → {stay.end ? fmt.dateTime(stay.end) : t('stays.ongoing')}
        {stay.classCode && (
          <span className="muted">
            {' '}
            ·{' '}
            {t(
              `encounter.class.${stay.classCode === 'IMP' || stay.classCode === 'AMB' || stay.classCode === 'EMER' ? stay.classCode : 'other'}`,
            )}
          </span>
        )}
        {stay.medicalUnit && <span className="muted"> · {unit(stay.medicalUnit)}</span>}
      </p>
      {(stay.entryMode || stay.exitMode) && dim && (
        <p className="small">
          {stay.entryMode && t('stays.entryMode', { mode: stay.entryMode })}{' '}
          {stay.exitMode && ` · ${t('stays.exitMode', { mode: stay.exitMode })}`}
        </p>
      )}
      {stay.movements.length > 0 ? (
        <ol className="timeline" aria-label={t('stays.movements')}>
          {stay.movements.map((movement) => (
            <li key={movement.id} className={movement.cancelled ? 'timeline-item cancelled' : 'timeline-item'}>
              <span className="timeline-dot" aria-hidden="true" />
              <div className="timeline-body">
                <div className="timeline-head">
                  <time dateTime={movement.start}>{fmt.dateTime(movement.start)}</time>
                  <strong>{eventLabel(movement.event)}</strong>
                  {movement.cancelled && <span className="badge badge-warning">{t('stays.cancelled')}</span>}
                  {dim && movement.nature && (
                    <span className="muted small">{t('stays.nature', { nature: movement.nature })}</span>
                  )}
                </div>
                <dl className="facts facts-inline small">
                  <dt>{t('stays.medicalUnit')}</dt>
                  <dd>{unit(movement.medicalUnit)}</dd>
                  <dt>{t('stays.careUnit')}</dt>
                  <dd>{unit(movement.careUnit)}</dd>
                  {movement.location && (
                    <>
                      <dt>{t('stays.location')}</dt>
                      <dd>{referenceLabel(movement.location, state.referenced) ?? '—'}</dd>
                    </>
                  )}
                  {dim && movement.identifier && (
                    <>
                      <dt>{t('stays.movementId')}</dt>
                      <dd className="mono">{movement.identifier}</dd>
                    </>
                  )}
                </dl>
                <SourceLine source={state.lineage.latest(`Encounter/${movement.id}`)} compact />
              </div>
            </li>
          ))}
        </ol>
      ) : (
        <p className="muted small">{t('stays.noMovement')}</p>
      )}
    </section>
  );
}
