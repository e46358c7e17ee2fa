// Imaging studies: each ImagingStudy with its series (modality, description, number of images) and a thumbnail
// from the hub's DICOMweb; the viewer shows the rendered images of a series, one at a time (arrow keys).
import type { ImagingStudy, ImagingStudySeries } from '@medplum/fhirtypes';
import { useEffect, useState, type KeyboardEvent } from 'react';
import { Link } from '../../app/router.js';
import { useSession } from '../../app/session.js';
import { useAsync } from '../../app/use-async.js';
import { SourceLine } from '../../components/source.js';
import { Empty, ErrorState, Loading } from '../../components/states.js';
import { useI18n } from '../../i18n/i18n.js';
import { conceptLabel } from '../../lib/display.js';
import { sectionItems, useRecord } from './record-data.js';

const UID = /^[0-9.]{1,64}$/;

export function studyUid(study: ImagingStudy): string | undefined {
  const value = study.identifier?.find((i) => i.system === 'urn:dicom:uid')?.value?.replace(/^urn:oid:/, '');
  return value && UID.test(value) ? value : undefined;
}

function instancePath(study: string, series: string, instance: string): string {
  return `/dicomweb/studies/${study}/series/${series}/instances/${instance}`;
}

/** An image from DICOMweb (sent with the token, so fetched and shown from a blob URL). */
function DicomImage({ path, alt, className }: { path: string; alt: string; className: string }) {
  const { api } = useSession();
  const { t } = useI18n();
  const image = useAsync<Blob>((signal) => api.blob(path, 'image/png, image/jpeg;q=0.9', signal), [path]);
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (image.status !== 'ok') return;
    const objectUrl = URL.createObjectURL(image.data);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [image.status, image.data]);
  if (image.status === 'error') return <span className={`${className} image-missing`}>{t('imaging.noImage')}</span>;
  if (!url) return <span className={`${className} image-loading`} aria-busy="true" />;
  return <img className={className} src={url} alt={alt} />;
}

function seriesLabel(
  series: ImagingStudySeries,
  t: (k: 'imaging.series', v: Record<string, string | number>) => string,
): string {
  return series.description ?? t('imaging.series', { number: series.number ?? '?' });
}

export function ImagingTab() {
  const { t, fmt } = useI18n();
  const { state, patientId } = useRecord();
  const section = state.sections.imaging;
  if (section.status === 'loading') return <Loading />;
  if (section.status === 'error') return <ErrorState error={section.error} />;
  const studies = sectionItems<ImagingStudy>(section);
  return (
    <div className="tab-panel">
      <h2 className="section-title">{t('imaging.title')}</h2>
      {studies.length === 0 ? (
        <Empty>{t('imaging.none')}</Empty>
      ) : (
        <ul className="item-list">
          {studies.map((study) => {
            const uid = studyUid(study);
            return (
              <li key={study.id} className="item study">
                <div className="item-head">
                  <span className="item-title">
                    {study.description ?? conceptLabel(study.procedureCode?.[0]) ?? t('imaging.untitled')}
                  </span>
                  <span className="muted">{fmt.dateTime(study.started)}</span>
                </div>
                <p className="item-meta">
                  {(study.modality ?? []).map((m) => m.code).join(', ') || '—'} ·{' '}
                  {t('imaging.counts', {
                    series: study.numberOfSeries ?? study.series?.length ?? 0,
                    instances: study.numberOfInstances ?? 0,
                  })}
                </p>
                <ul className="series-grid">
                  {(study.series ?? []).map((series) => {
                    const first = series.instance?.[0]?.uid;
                    return (
                      <li key={series.uid} className="series">
                        <Link
                          to={`/patients/${patientId}/imaging/${study.id}?series=${encodeURIComponent(series.uid)}`}
                          className="series-link"
                        >
                          {uid && first && UID.test(series.uid) && UID.test(first) ? (
                            <DicomImage
                              path={`${instancePath(uid, series.uid, first)}/thumbnail`}
                              alt=""
                              className="thumbnail"
                            />
                          ) : (
                            <span className="thumbnail image-missing">{series.modality?.code}</span>
                          )}
                          <span className="series-caption">
                            {series.modality?.code} · {seriesLabel(series, t)} ·{' '}
                            {t('imaging.images', { count: series.numberOfInstances ?? series.instance?.length ?? 0 })}
                          </span>
                        </Link>
                      </li>
                    );
                  })}
                </ul>
                <Link to={`/patients/${patientId}/imaging/${study.id}`} className="button">
                  {t('imaging.open')}
                </Link>
                <SourceLine source={state.lineage.latest(`ImagingStudy/${study.id}`)} compact />
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

export function ImageViewer({ studyId, seriesUid }: { studyId: string; seriesUid: string | null }) {
  const { t, fmt } = useI18n();
  const { state, patientId } = useRecord();
  const study = sectionItems<ImagingStudy>(state.sections.imaging).find((s) => s.id === studyId);
  const [seriesIndex, setSeriesIndex] = useState(0);
  const [instanceIndex, setInstanceIndex] = useState(0);
  useEffect(() => {
    const index = study?.series?.findIndex((s) => s.uid === seriesUid) ?? -1;
    setSeriesIndex(index >= 0 ? index : 0);
    setInstanceIndex(0);
  }, [study, seriesUid]);
  if (state.sections.imaging.status === 'loading') return <Loading />;
  if (!study) return <Empty>{t('imaging.notFound')}</Empty>;
  const uid = studyUid(study);
  const series = study.series?.[seriesIndex];
  const instances = (series?.instance ?? [])
    .filter((i) => UID.test(i.uid))
    .sort((a, b) => (a.number ?? 0) - (b.number ?? 0));
  const instance = instances[instanceIndex];
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'ArrowRight' || event.key === 'ArrowDown')
      setInstanceIndex((i) => Math.min(i + 1, instances.length - 1));
    else if (event.key === 'ArrowLeft' || event.key === 'ArrowUp') setInstanceIndex((i) => Math.max(i - 1, 0));
    else return;
    event.preventDefault();
  };
  return (
    <div className="tab-panel viewer">
      <p>
        <Link to={`/patients/${patientId}/imaging`}>← {t('imaging.back')}</Link>
      </p>
      <h2 className="section-title">
        {study.description ?? t('imaging.untitled')} · {fmt.dateTime(study.started)}
      </h2>
      <div className="viewer-layout">
        <nav aria-label={t('imaging.seriesList')}>
          <ul className="viewer-series">
            {(study.series ?? []).map((s, i) => (
              <li key={s.uid}>
                <button
                  type="button"
                  className={i === seriesIndex ? 'series-button current' : 'series-button'}
                  aria-pressed={i === seriesIndex}
                  onClick={() => (setSeriesIndex(i), setInstanceIndex(0))}
                >
                  {s.modality?.code} · {seriesLabel(s, t)} ({s.numberOfInstances ?? s.instance?.length ?? 0})
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <div
          className="viewer-stage"
          tabIndex={0}
          onKeyDown={onKeyDown}
          role="group"
          aria-label={t('imaging.stage')}
          aria-describedby="viewer-help"
        >
          {uid && series && instance ? (
            <DicomImage
              path={`${instancePath(uid, series.uid, instance.uid)}/rendered`}
              alt={t('imaging.imageAlt', { number: instanceIndex + 1, total: instances.length })}
              className="viewer-image"
            />
          ) : (
            <Empty>{t('imaging.noInstances')}</Empty>
          )}
          <div className="viewer-controls">
            <button
              type="button"
              className="button"
              onClick={() => setInstanceIndex((i) => Math.max(i - 1, 0))}
              disabled={instanceIndex === 0}
            >
              {t('imaging.previous')}
            </button>
            <span aria-live="polite">
              {instances.length ? t('imaging.position', { number: instanceIndex + 1, total: instances.length }) : ''}
            </span>
            <button
              type="button"
              className="button"
              onClick={() => setInstanceIndex((i) => Math.min(i + 1, instances.length - 1))}
              disabled={instanceIndex >= instances.length - 1}
            >
              {t('imaging.next')}
            </button>
          </div>
          <p id="viewer-help" className="muted small">
            {t('imaging.help')}
          </p>
        </div>
      </div>
    </div>
  );
}
