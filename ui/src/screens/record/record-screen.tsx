// A patient's record: the identity banner on top, then tabs — summary, stays, results, documents, imaging,
// orders and appointments, the DIM view. Each tab has its own URL (/patients/:id/:tab).
import { Link, matchPath, useLocation } from '../../app/router.js';
import { ErrorState, Loading } from '../../components/states.js';
import { TabBar, type TabItem } from '../../components/tabs.js';
import { useI18n } from '../../i18n/i18n.js';
import { IdentityBanner } from './banner.js';
import { OrdersTab } from './clinical-lists.js';
import { DimTab } from './dim-tab.js';
import { DocumentsTab, DocumentView } from './documents-tab.js';
import { ImageViewer, ImagingTab } from './imaging-tab.js';
import { RecordProvider, useRecord, type SectionKey } from './record-data.js';
import { ResultsTab } from './results-tab.js';
import { StaysTab } from './stays-tab.js';
import { SummaryTab } from './summary-tab.js';

const TABS = ['summary', 'stays', 'results', 'documents', 'imaging', 'orders', 'dim'] as const;
type Tab = (typeof TABS)[number];

const COUNTED: Partial<Record<Tab, SectionKey>> = {
  stays: 'encounters',
  documents: 'documents',
  imaging: 'imaging',
  orders: 'orders',
};

export function RecordScreen({ patientId }: { patientId: string }) {
  return (
    <RecordProvider patientId={patientId}>
      <Record />
    </RecordProvider>
  );
}

function Record() {
  const { t } = useI18n();
  const { state, patientId, reload } = useRecord();
  const { path, query } = useLocation();
  const document = matchPath('/patients/:id/documents/:doc', path);
  const image = matchPath('/patients/:id/imaging/:study', path);
  const params = matchPath('/patients/:id/:tab?', path);
  const tab: Tab = document ? 'documents' : image ? 'imaging' : (TABS.find((x) => x === params?.tab) ?? 'summary');

  if (state.patient.status === 'loading') return <Loading label={t('record.loading')} />;
  if (state.patient.status === 'error') {
    return (
      <section className="screen">
        <ErrorState
          error={state.patient.error}
          title={state.patient.error.name === 'NotFound' ? t('record.notFound') : t('record.failed')}
          onRetry={reload}
        />
        <Link to="/patients">{t('record.backToSearch')}</Link>
      </section>
    );
  }

  const tabs: TabItem[] = TABS.map((id) => {
    const section = COUNTED[id] ? state.sections[COUNTED[id]!] : undefined;
    const count = section?.status === 'ok' ? section.items.length : undefined;
    return {
      id,
      label: t(`record.tab.${id}`),
      to: id === 'summary' ? `/patients/${patientId}` : `/patients/${patientId}/${id}`,
      ...(count !== undefined && id !== 'stays' ? { count } : {}),
    };
  });

  return (
    <section className="screen screen-record">
      <IdentityBanner patient={state.patient.patient} />
      <TabBar tabs={tabs} current={tab} label={t('record.tabs')} />
      <div className="record-content">
        {document ? (
          <DocumentView documentId={document.doc!} />
        ) : image ? (
          <ImageViewer studyId={image.study!} seriesUid={query.get('series')} />
        ) : tab === 'summary' ? (
          <SummaryTab />
        ) : tab === 'stays' ? (
          <StaysTab />
        ) : tab === 'results' ? (
          <ResultsTab />
        ) : tab === 'documents' ? (
          <DocumentsTab />
        ) : tab === 'imaging' ? (
          <ImagingTab />
        ) : tab === 'orders' ? (
          <OrdersTab />
        ) : (
          <DimTab />
        )}
      </div>
    </section>
  );
}
