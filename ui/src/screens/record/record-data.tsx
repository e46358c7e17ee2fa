// Everything the record screens show about one patient, loaded once when the record opens (each section in
// parallel, with the Provenance of its items) and shared by the tabs: switching tabs does not reload.
import type { Patient, Provenance, Reference, Resource } from '@medplum/fhirtypes';
import { createContext, useContext, useEffect, useMemo, useReducer, useState, type ReactNode } from 'react';
import type { ApiClient } from '../../api/client.js';
import { useSession } from '../../app/session.js';
import { LineageIndex } from '../../lib/lineage.js';
import { patientQuery, sectionQuery, SECTION_KEYS, type SectionKey } from '../../lib/record-queries.js';

export { SECTION_KEYS, type SectionKey } from '../../lib/record-queries.js';

export type SectionState =
  { status: 'loading' } | { status: 'ok'; items: Resource[]; truncated: boolean } | { status: 'error'; error: Error };

interface RecordState {
  patient: { status: 'loading' } | { status: 'ok'; patient: Patient } | { status: 'error'; error: Error };
  sections: Record<SectionKey, SectionState>;
  lineage: LineageIndex;
  /** Organizations, Practitioners, Locations… the items point to, by "Type/id". */
  referenced: Map<string, Resource>;
  version: number;
}

type Action =
  | { kind: 'reset' }
  | { kind: 'patient'; patient: Patient; provenances: Provenance[] }
  | { kind: 'patient-error'; error: Error }
  | { kind: 'section'; key: SectionKey; items: Resource[]; included: Resource[]; truncated: boolean }
  | { kind: 'section-error'; key: SectionKey; error: Error }
  | { kind: 'referenced'; resources: Resource[] };

function initial(): RecordState {
  return {
    patient: { status: 'loading' },
    sections: Object.fromEntries(SECTION_KEYS.map((k) => [k, { status: 'loading' }])) as Record<
      SectionKey,
      SectionState
    >,
    lineage: new LineageIndex(),
    referenced: new Map(),
    version: 0,
  };
}

function reducer(state: RecordState, action: Action): RecordState {
  switch (action.kind) {
    case 'reset':
      return initial();
    case 'patient':
      state.lineage.add(action.provenances);
      return { ...state, patient: { status: 'ok', patient: action.patient }, version: state.version + 1 };
    case 'patient-error':
      return { ...state, patient: { status: 'error', error: action.error } };
    case 'section': {
      state.lineage.add(action.included.filter((r): r is Provenance => r.resourceType === 'Provenance'));
      const referenced = new Map(state.referenced);
      for (const r of action.included)
        if (r.resourceType !== 'Provenance') referenced.set(`${r.resourceType}/${r.id}`, r);
      return {
        ...state,
        referenced,
        sections: {
          ...state.sections,
          [action.key]: { status: 'ok', items: action.items, truncated: action.truncated },
        },
        version: state.version + 1,
      };
    }
    case 'section-error':
      return { ...state, sections: { ...state.sections, [action.key]: { status: 'error', error: action.error } } };
    case 'referenced': {
      const referenced = new Map(state.referenced);
      for (const r of action.resources) referenced.set(`${r.resourceType}/${r.id}`, r);
      return { ...state, referenced, version: state.version + 1 };
    }
    default:
      return action satisfies never;
  }
}

const REFERENCED_TYPES = ['Organization', 'Practitioner', 'Location', 'PractitionerRole'];

/** References to Organizations, Practitioners, Locations anywhere in the items. */
function referencesIn(resources: Resource[]): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      const reference = (node as Reference).reference;
      if (typeof reference === 'string') {
        const [type, id] = reference.split('/');
        if (type && id && REFERENCED_TYPES.includes(type)) found.add(`${type}/${id}`);
      }
      for (const value of Object.values(node)) if (value && typeof value === 'object') visit(value);
    }
  };
  visit(resources);
  return found;
}

async function loadReferenced(api: ApiClient, wanted: Set<string>, signal: AbortSignal): Promise<Resource[]> {
  const byType = new Map<string, string[]>();
  for (const key of wanted) {
    const [type, id] = key.split('/') as [string, string];
    byType.set(type, [...(byType.get(type) ?? []), id]);
  }
  const out: Resource[] = [];
  for (const [type, ids] of byType) {
    for (let i = 0; i < ids.length; i += 100) {
      const page = await api.search(
        type,
        [
          ['_id', ids.slice(i, i + 100).join(',')],
          ['_count', '100'],
        ],
        signal,
      );
      out.push(...page.matches);
    }
  }
  return out;
}

interface RecordContextValue {
  patientId: string;
  state: RecordState;
  reload(): void;
}

const RecordContext = createContext<RecordContextValue | undefined>(undefined);

export function RecordProvider({ patientId, children }: { patientId: string; children: ReactNode }) {
  const { api } = useSession();
  const [state, dispatch] = useReducer(reducer, undefined, initial);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    dispatch({ kind: 'reset' });
    const patient = patientQuery(patientId);
    api
      .search<Patient>(patient.type, patient.params, signal)
      .then((result) => {
        const patient = result.matches.find((p) => p.resourceType === 'Patient');
        if (!patient) throw Object.assign(new Error(`Patient/${patientId}`), { name: 'NotFound' });
        dispatch({
          kind: 'patient',
          patient,
          provenances: result.included.filter((r): r is Provenance => r.resourceType === 'Provenance'),
        });
      })
      .catch((error: Error) => !signal.aborted && dispatch({ kind: 'patient-error', error }));
    const loaded: Resource[] = [];
    const pending = SECTION_KEYS.map(async (key) => {
      try {
        const query = sectionQuery(key, patientId);
        const result = await api.search(query.type, query.params, signal);
        loaded.push(...result.matches);
        if (!signal.aborted)
          dispatch({
            kind: 'section',
            key,
            items: result.matches,
            included: result.included,
            truncated: result.next !== undefined,
          });
      } catch (error) {
        if (!signal.aborted && (error as Error).name !== 'AbortError')
          dispatch({ kind: 'section-error', key, error: error as Error });
      }
    });
    void Promise.all(pending).then(async () => {
      if (signal.aborted) return;
      const wanted = referencesIn(loaded);
      if (wanted.size === 0) return;
      try {
        dispatch({ kind: 'referenced', resources: await loadReferenced(api, wanted, signal) });
      } catch {
        // names stay as references: the record is still readable
      }
    });
    return () => controller.abort();
  }, [api, patientId, generation]);

  const value = useMemo(() => ({ patientId, state, reload: () => setGeneration((g) => g + 1) }), [patientId, state]);
  return <RecordContext.Provider value={value}>{children}</RecordContext.Provider>;
}

export function useRecord(): RecordContextValue {
  const value = useContext(RecordContext);
  if (!value) throw new Error('useRecord outside RecordProvider');
  return value;
}

export function sectionItems<T extends Resource>(state: SectionState): T[] {
  return state.status === 'ok' ? (state.items as T[]) : [];
}
