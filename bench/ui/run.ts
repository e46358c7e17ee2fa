// How long the hub takes to answer what the UI asks, at 100,000 patients: the patient searches of the search box
// (INS, IPP, names + birth date, and the tolerant fallbacks) and the requests that open a record (the patient
// with its Provenance, the 13 sections, the duplicate check). Server time = request sent → last byte received on
// loopback (no browser, no network).
//
// Peer, side by side on the same database: the same record opening as hand-written SQL (one statement per request,
// each returning the same rows as the API — checked before timing), run over the same connection pool. The ratio
// API / SQL is what the hub adds (query planning of generic FHIR search, JSON parsing, Bundle assembly, HTTP).
//
//   npx tsx bench/ui/run.ts [--patients 100000] [--records 50] [--runs 40] [--profile server|embedded]
//
// server: a throwaway database on PostgreSQL 127.0.0.1:5432 (KENEY_BENCH_DATABASE_URL to change), dropped after.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { scratchDatabase } from '../common/scratch-database.js';
import { loadConfig } from '../../hub/config.js';
import { createHub, type Hub } from '../../hub/hub.js';
import { createLogger } from '../../hub/logger.js';
import { dateRange, normalizeString } from '../../store/search/values.js';
import { uuidV5 } from '../../store/uuid.js';
import { INS_SYSTEMS, insKey } from '../../ui/src/lib/ins.js';
import { parsePatientQuery, patientSearchSteps } from '../../ui/src/lib/patient-query.js';
import { patientQuery, RECORD_SECTIONS, sectionQuery, SECTION_KEYS } from '../../ui/src/lib/record-queries.js';

const { values } = parseArgs({
  options: {
    patients: { type: 'string', default: '100000' },
    records: { type: 'string', default: '50' },
    runs: { type: 'string', default: '40' },
    profile: { type: 'string', default: 'server' },
    batch: { type: 'string', default: '100' },
  },
});
const PATIENTS = Number(values.patients);
const RECORDS = Number(values.records);
const RUNS = Number(values.runs);
const BATCH = Number(values.batch);
const PROFILE = values.profile === 'embedded' ? 'embedded' : 'server';

// ---------- synthetic population (deterministic) ----------

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FAMILIES =
  'MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL LEFEBVRE LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE ROUSSEAU VINCENT MULLER LEFEVRE FAURE ANDRE MERCIER BLANC GUERIN BOYER GARNIER CHEVALIER FRANCOIS LEGRAND GAUTHIER GARCIA PERRIN ROBIN CLEMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON MARCHAND DUVAL DENIS DUMONT MARIE LEMAIRE NOEL MEYER DUFOUR MEUNIER BRUN BLANCHARD GIRAUD JOLY RIVIERE LUCAS BRUNET GAILLARD BARBIER ARNAUD MARTINEZ GERARD ROCHE RENARD SCHMITT ROY LEROUX COLIN VIDAL CARON PICARD ROGER FABRE AUBERT LEMOINE RENAUD DUMAS LACROIX OLIVIER PHILIPPE BOURGEOIS PIERRE BENOIT REY LECLERC PAYET ROLLAND LECLERCQ GUILLAUME LECOMTE LOPEZ JEAN DUPUY GUILLOT HUBERT BERGER CARPENTIER SANCHEZ DUPUIS MOULIN LOUIS DESCHAMPS HUET VASSEUR PEREZ BOUCHER FLEURY ROYER KLEIN JACQUET ADAM PARIS POIRIER MARTY AUBRY GUYOT CARRE CHARLES RENAULT CHARPENTIER MENARD MAILLARD BARON BERTIN BAILLY HERVE SCHNEIDER FERNANDEZ LE GALL COLLET LEGER BOUVIER JULIEN PREVOST MILLET PERROT DANIEL LE ROUX COUSIN GERMAIN BRETON BESSON LANGLOIS REMY LE GOFF PELLETIER LEVEQUE PERRIER LEBLANC BARRE LEBRUN MARCHAL WEBER MALLET HAMON BOULANGER JACOB MONNIER MICHAUD RODRIGUEZ GUICHARD GILLET ETIENNE GRONDIN POULAIN TESSIER CHEVALLIER COLLIN CHAUVIN DA SILVA BOUCHET GAY LEMAITRE BENARD MARECHAL HUMBERT REYNAUD ANTOINE HOARAU PERRET BARTHELEMY CORDIER PICHON LEJEUNE GILBERT LAMY DELAUNAY PASQUIER CARLIER LAPORTE'
    .split(' ')
    .map((n) => n.replace(/_/g, ' '));
const GIVEN_F =
  'MARIE NATHALIE ISABELLE SYLVIE CATHERINE FRANCOISE MARTINE CHRISTINE MONIQUE NICOLE VALERIE SANDRINE STEPHANIE CELINE JULIE AURELIE EMILIE CAMILLE LEA MANON CHLOE EMMA INES JADE LOUISE ALICE LINA ROSE ANNA HELENE'.split(
    ' ',
  );
const GIVEN_M =
  'JEAN PIERRE MICHEL ANDRE PHILIPPE ALAIN BERNARD JACQUES CHRISTOPHE NICOLAS DAVID ERIC FREDERIC LAURENT SEBASTIEN JULIEN THOMAS ANTOINE LUCAS HUGO LOUIS GABRIEL ARTHUR JULES RAPHAEL LEO PAUL NOAH ADAM MAEL'.split(
    ' ',
  );
const STATUSES = ['PROV', 'RECUP', 'VALI', 'QUAL'];

interface Person {
  id: string;
  ipp: string;
  ins: string;
  family: string;
  given: string;
  birthDate: string;
}

function person(n: number): Person {
  const random = prng(n * 7919 + 17);
  const female = random() < 0.52;
  const year = 1925 + Math.floor(random() * 98);
  const month = 1 + Math.floor(random() * 12);
  const day = 1 + Math.floor(random() * 28);
  const dept = String(1 + Math.floor(random() * 95)).padStart(2, '0');
  const body = `${female ? 2 : 1}${String(year % 100).padStart(2, '0')}${String(month).padStart(2, '0')}${dept}${String(Math.floor(random() * 1000)).padStart(3, '0')}${String(Math.floor(random() * 1000)).padStart(3, '0')}`;
  return {
    id: uuidV5(`bench-ui/patient/${n}`),
    ipp: `B${String(n).padStart(7, '0')}`,
    ins: body + String(insKey(body)).padStart(2, '0'),
    family: FAMILIES[Math.floor(random() * FAMILIES.length)]!,
    given: ((list) => list[Math.floor(random() * list.length)]!)(female ? GIVEN_F : GIVEN_M),
    birthDate: `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
  };
}

function patientResource(p: Person, n: number): Resource {
  return {
    resourceType: 'Patient',
    id: p.id,
    identifier: [
      {
        system: 'urn:oid:1.2.250.1.999.3.1',
        value: p.ipp,
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PI' }] },
      },
      {
        system: INS_SYSTEMS.test,
        value: p.ins,
        type: { coding: [{ system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203', code: 'INS-NIR' }] },
      },
    ],
    name: [{ use: 'official', family: p.family, given: [p.given] }],
    gender: p.ins.startsWith('2') ? 'female' : 'male',
    birthDate: p.birthDate,
    extension: [
      {
        url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability',
        extension: [
          {
            url: 'identityStatus',
            valueCoding: {
              system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445',
              code: STATUSES[n % 4]!,
            },
          },
        ],
      },
    ],
  } as Resource;
}

/** A full record: a stay with movements, 10 lab panels of 5 results, orders, documents, problems, acts. */
function recordEntries(p: Person, n: number): BundleEntry[] {
  const subject = { reference: `Patient/${p.id}` };
  const id = (what: string) => uuidV5(`bench-ui/${n}/${what}`);
  const entries: Resource[] = [];
  const stay = id('stay');
  entries.push({
    resourceType: 'Encounter',
    id: stay,
    status: 'in-progress',
    class: { code: 'IMP' },
    identifier: [{ system: 'urn:oid:1.2.250.1.999.3.2', value: `S${n}` }],
    subject,
    period: { start: '2026-01-10T08:00:00Z' },
  } as Resource);
  for (let m = 0; m < 3; m++) {
    entries.push({
      resourceType: 'Encounter',
      id: id(`mvt${m}`),
      status: 'in-progress',
      class: { code: 'IMP' },
      identifier: [{ system: 'urn:oid:1.2.250.1.999.3.4', value: `M${n}-${m}` }],
      subject,
      partOf: { reference: `Encounter/${stay}` },
      period: { start: `2026-01-1${m}T09:00:00Z` },
    } as Resource);
  }
  const analytes = [
    ['2823-3', 'K', 'mmol/L', 4.2],
    ['2951-2', 'NA', 'mmol/L', 139],
    ['2160-0', 'CREA', 'umol/L', 80],
    ['718-7', 'HB', 'g/dL', 13],
    ['1988-5', 'CRP', 'mg/L', 4],
  ] as const;
  for (let d = 0; d < 10; d++) {
    const when = `2026-01-${String(10 + d).padStart(2, '0')}T07:30:00Z`;
    const results = analytes.map(([loinc, local, unit, base], a) => {
      const obsId = id(`obs${d}-${a}`);
      entries.push({
        resourceType: 'Observation',
        id: obsId,
        status: 'final',
        subject,
        encounter: { reference: `Encounter/${stay}` },
        effectiveDateTime: when,
        code: {
          coding: [
            { system: 'http://loinc.org', code: loinc },
            { system: 'urn:local', code: local },
          ],
        },
        valueQuantity: {
          value: base * (0.9 + ((d * 7 + a) % 5) / 20),
          unit,
          system: 'http://unitsofmeasure.org',
          code: unit,
        },
      } as Resource);
      return { reference: `Observation/${obsId}` };
    });
    entries.push({
      resourceType: 'ServiceRequest',
      id: id(`sr${d}`),
      status: 'completed',
      intent: 'order',
      subject,
      authoredOn: when,
      code: { text: 'Bilan' },
    } as Resource);
    entries.push({
      resourceType: 'DiagnosticReport',
      id: id(`dr${d}`),
      status: 'final',
      subject,
      effectiveDateTime: when,
      code: { text: 'Bilan' },
      result: results,
    } as Resource);
  }
  for (let k = 0; k < 2; k++)
    entries.push({
      resourceType: 'DocumentReference',
      id: id(`doc${k}`),
      status: 'current',
      subject,
      date: '2026-01-12T10:00:00Z',
      type: { text: 'Compte rendu' },
      content: [
        {
          attachment: {
            contentType: 'text/plain',
            data: Buffer.from(`Compte rendu ${k} du patient ${n}`).toString('base64'),
          },
        },
      ],
    } as Resource);
  for (const code of ['I50.1', 'E87.5', 'N18.3'])
    entries.push({
      resourceType: 'Condition',
      id: id(`c${code}`),
      subject,
      code: { coding: [{ system: 'https://smt.esante.gouv.fr/terminologie-cim-10/', code }] },
    } as Resource);
  entries.push({
    resourceType: 'Procedure',
    id: id('p1'),
    status: 'completed',
    subject,
    code: { coding: [{ system: 'https://smt.esante.gouv.fr/terminologie-ccam/', code: 'DEQP003' }] },
    performedDateTime: '2026-01-10T09:00:00Z',
  } as Resource);
  entries.push({
    resourceType: 'AllergyIntolerance',
    id: id('a1'),
    patient: subject,
    code: { text: 'Pénicilline' },
    verificationStatus: { coding: [{ code: 'confirmed' }] },
  } as Resource);
  entries.push({
    resourceType: 'MedicationRequest',
    id: id('m1'),
    status: 'active',
    intent: 'order',
    subject,
    medicationCodeableConcept: { text: 'FUROSEMIDE 40 mg' },
    authoredOn: '2026-01-11T10:00:00Z',
  } as Resource);
  entries.push({
    resourceType: 'Appointment',
    id: id('ap1'),
    status: 'booked',
    participant: [{ actor: subject, status: 'accepted' }],
    start: '2026-02-10T09:00:00Z',
    end: '2026-02-10T09:30:00Z',
  } as Resource);
  return entries.map((resource) => ({
    resource,
    request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
  }));
}

// ---------- measuring ----------

function stats(samples: number[]): { median: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)]!,
    p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!,
  };
}

async function main(): Promise<void> {
  const token = `kny_bench_${randomBytes(16).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'keney-bench-ui-'));
  const env: Record<string, string> = {
    KENEY_DATA_DIR: dataDir,
    KENEY_HTTP_PORT: '0',
    KENEY_HTTP_HOST: '127.0.0.1',
    KENEY_ADMIN_TOKEN: token,
    KENEY_APPLY_TIMEOUT_MS: '600000',
  };
  let dropDatabase: (() => Promise<void>) | undefined;
  if (PROFILE === 'server') {
    const db = await scratchDatabase('keney_bench_ui');
    env.KENEY_DATABASE_URL = db.url;
    dropDatabase = () => db.drop();
  }
  let hub: Hub | undefined;
  try {
    hub = await createHub(loadConfig(env), { modules: [], logger: createLogger('error') });
    const base = await hub.start();
    const origin = { kind: 'api' as const, actor: 'bench', sender: 'bench/ui' };
    const seedStart = performance.now();
    for (let first = 0; first < PATIENTS; first += BATCH) {
      const entry: BundleEntry[] = [];
      for (let n = first; n < Math.min(PATIENTS, first + BATCH); n++) {
        const resource = patientResource(person(n), n);
        entry.push({ resource, request: { method: 'PUT', url: `Patient/${resource.id}` } });
      }
      await hub.context.store.submit({
        bundle: { resourceType: 'Bundle', type: 'transaction', entry } as Bundle,
        origin,
      });
      if ((first / BATCH) % 50 === 0) process.stderr.write(`\rpatients ${first + entry.length}/${PATIENTS}`);
    }
    for (let n = 0; n < RECORDS; n++) {
      await hub.context.store.submit({
        bundle: { resourceType: 'Bundle', type: 'transaction', entry: recordEntries(person(n), n) } as Bundle,
        origin: { ...origin, sender: 'bench/ui record' },
      });
    }
    const seedSeconds = (performance.now() - seedStart) / 1000;
    process.stderr.write(`\rseeded ${PATIENTS} patients + ${RECORDS} full records in ${seedSeconds.toFixed(0)} s\n`);
    await hub.context.sql.query('ANALYZE');

    const headers = { authorization: `Bearer ${token}`, accept: 'application/fhir+json' };
    const timed = async (path: string): Promise<{ ms: number; bytes: number; status: number }> => {
      const started = performance.now();
      const response = await fetch(`${base}/fhir/${path}`, { headers });
      const body = await response.arrayBuffer();
      return { ms: performance.now() - started, bytes: body.byteLength, status: response.status };
    };
    const url = (type: string, params: [string, string][]) => `${type}?${new URLSearchParams(params).toString()}`;
    const pick = (run: number) => person((run * 2654435761) % PATIENTS);
    const recordPick = (run: number) => person(run % RECORDS);

    const searches: { name: string; path: (run: number) => string }[] = [
      {
        name: 'INS typed with spaces (4 INS systems)',
        path: (r) => {
          const q = patientSearchSteps(
            parsePatientQuery(pick(r).ins.replace(/^(.)(..)(..)(..)(...)(...)(..)$/, '$1 $2 $3 $4 $5 $6 $7')),
          )[0]!;
          return url('Patient', q.params);
        },
      },
      { name: 'IPP', path: (r) => url('Patient', patientSearchSteps(parsePatientQuery(pick(r).ipp))[0]!.params) },
      {
        name: 'name + given name + birth date',
        path: (r) => {
          const p = pick(r);
          return url(
            'Patient',
            patientSearchSteps(
              parsePatientQuery(
                `${p.family.toLowerCase()} ${p.given.toLowerCase()} ${p.birthDate.split('-').reverse().join('/')}`,
              ),
            )[0]!.params,
          );
        },
      },
      {
        name: 'tolerant: same without the birth date',
        path: (r) => {
          const p = pick(r);
          return url(
            'Patient',
            patientSearchSteps(
              parsePatientQuery(`${p.family} ${p.given} ${p.birthDate.split('-').reverse().join('/')}`),
            )[1]!.params,
          );
        },
      },
      {
        name: 'tolerant: 3-letter prefixes + birth date',
        path: (r) => {
          const p = pick(r);
          return url(
            'Patient',
            patientSearchSteps(
              parsePatientQuery(`${p.family}x ${p.given}x ${p.birthDate.split('-').reverse().join('/')}`),
            )[2]!.params,
          );
        },
      },
      {
        name: 'tolerant: names contained (first letter missed) + birth date',
        path: (r) => {
          const p = pick(r);
          return url(
            'Patient',
            patientSearchSteps(
              parsePatientQuery(
                `${p.family.slice(1)} ${p.given.slice(1)} ${p.birthDate.split('-').reverse().join('/')}`,
              ),
            ).find((step) => step.params.some(([k]) => k === 'name:contains'))!.params,
          );
        },
      },
    ];
    const rows: string[] = [];
    for (const search of searches) {
      for (let w = 0; w < 3; w++) await timed(search.path(1000 + w));
      const samples: number[] = [];
      let found = 0;
      for (let run = 0; run < RUNS; run++) {
        const result = await timed(search.path(run));
        if (result.status !== 200) throw new Error(`${search.name}: ${result.status}`);
        samples.push(result.ms);
        found += result.bytes > 400 ? 1 : 0;
      }
      const s = stats(samples);
      rows.push(`| search: ${search.name} | ${s.median.toFixed(1)} | ${s.p95.toFixed(1)} | ${found}/${RUNS} found |`);
    }

    // Opening a record: what record-data.tsx sends, sequentially (sum = server time) and 6 at a time (a browser).
    const recordPaths = (run: number) => {
      const p = recordPick(run);
      const list = [patientQuery(p.id), ...SECTION_KEYS.map((k) => sectionQuery(k, p.id))].map((q) =>
        url(q.type, q.params),
      );
      list.push(
        url('Patient', [
          ['birthdate', p.birthDate],
          ['name', p.family],
          ['_count', '20'],
        ]),
      );
      return list;
    };
    for (let w = 0; w < 2; w++) for (const path of recordPaths(w)) await timed(path);
    const sums: number[] = [];
    const slowest: number[] = [];
    const walls: number[] = [];
    let bytes = 0;
    for (let run = 0; run < RUNS; run++) {
      const paths = recordPaths(run);
      let sum = 0;
      let max = 0;
      for (const path of paths) {
        const r = await timed(path);
        if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
        sum += r.ms;
        max = Math.max(max, r.ms);
        bytes = Math.max(bytes, r.bytes);
      }
      sums.push(sum);
      slowest.push(max);
      const started = performance.now();
      const queue = [...paths];
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          for (let next = queue.shift(); next; next = queue.shift()) await timed(next);
        }),
      );
      walls.push(performance.now() - started);
    }
    const sum = stats(sums);
    const wall = stats(walls);
    const slow = stats(slowest);
    rows.push(
      `| record: 15 requests one after the other (server time, sum) | ${sum.median.toFixed(1)} | ${sum.p95.toFixed(1)} | ${RECORDS}-patient pool, 85 resources each |`,
    );
    rows.push(
      `| record: the slowest of the 15 | ${slow.median.toFixed(1)} | ${slow.p95.toFixed(1)} | largest answer ${(bytes / 1024).toFixed(0)} KiB |`,
    );
    rows.push(
      `| record: 15 requests, 6 at a time (as a browser) | ${wall.median.toFixed(1)} | ${wall.p95.toFixed(1)} | wall time |`,
    );

    // Side by side: the same record opening as hand-written SQL, one statement per request, same rows.
    const provenanceOf = (type: string, matches: string) =>
      `SELECT s.id, s.content FROM resources s WHERE s.resource_type = 'Provenance' AND NOT s.deleted AND s.id IN (
         SELECT x.id FROM sp_reference x WHERE x.resource_type = 'Provenance' AND x.param = 'target'
            AND x.target_type = '${type}' AND x.target_id IN (SELECT id FROM ${matches}))`;
    const recordSql = (run: number): { sql: string; params: unknown[] }[] => {
      const p = recordPick(run);
      const list: { sql: string; params: unknown[] }[] = [
        {
          sql: `WITH m AS (SELECT r.id, r.content FROM resources r WHERE r.resource_type = 'Patient' AND r.id = $1 AND NOT r.deleted)
                SELECT id, content FROM m UNION ALL ${provenanceOf('Patient', 'm')}`,
          params: [p.id],
        },
      ];
      for (const key of SECTION_KEYS) {
        const section = RECORD_SECTIONS[key];
        const params = section.params as readonly (readonly [string, string])[];
        const count = Number(params.find(([k]) => k === '_count')![1]);
        const sort = params.find(([k]) => k === '_sort')?.[1].replace(/^-/, '') ?? null;
        list.push({
          sql: `WITH m AS (
                  SELECT r.id, r.content FROM sp_reference x
                    JOIN resources r ON r.resource_type = x.resource_type AND r.id = x.id AND NOT r.deleted
                   WHERE x.target_id = $1 AND x.target_type = 'Patient' AND x.param = $2 AND x.resource_type = $3
                   ORDER BY (SELECT max(d.high) FROM sp_date d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = $4) DESC NULLS LAST, r.id
                   LIMIT $5)
                SELECT id, content FROM m UNION ALL ${provenanceOf(section.type, 'm')}`,
          params: [p.id, section.patientParam, section.type, sort, count],
        });
      }
      const day = dateRange(p.birthDate)!;
      list.push({
        sql: `SELECT r.id, r.content FROM resources r
               WHERE r.resource_type = 'Patient' AND NOT r.deleted
                 AND r.id IN (SELECT d.id FROM sp_date d WHERE d.resource_type = 'Patient' AND d.param = 'birthdate' AND d.low >= $1 AND d.high <= $2)
                 AND r.id IN (SELECT v.id FROM sp_string v WHERE v.resource_type = 'Patient' AND v.param = 'name' AND v.value LIKE $3)
               ORDER BY r.id LIMIT 21`,
        params: [day.low, day.high, `${normalizeString(p.family).replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
      });
      return list;
    };
    // Same rows first: each statement returns as many rows as the API's Bundle has entries.
    for (let run = 0; run < Math.min(RECORDS, 5); run++) {
      const paths = recordPaths(run);
      const statements = recordSql(run);
      for (let i = 0; i < paths.length; i++) {
        const response = await fetch(`${base}/fhir/${paths[i]!}`, { headers });
        const bundle = (await response.json()) as Bundle;
        const rows = await hub.context.sql.query(statements[i]!.sql, statements[i]!.params);
        if (rows.rows.length !== (bundle.entry?.length ?? 0))
          throw new Error(
            `the SQL peer of ${paths[i]!} returns ${rows.rows.length} rows, the API ${bundle.entry?.length ?? 0} entries`,
          );
      }
    }
    const peerSums: number[] = [];
    const apiSums: number[] = [];
    const requestNames = [
      'Patient + Provenance',
      ...SECTION_KEYS.map((k) => `${RECORD_SECTIONS[k].type} (${k})`),
      'duplicate check',
    ];
    const perRequest = requestNames.map(() => ({ api: [] as number[], sql: [] as number[] }));
    for (let run = 0; run < RUNS; run++) {
      let sql = 0;
      let api = 0;
      const statements = recordSql(run);
      const paths = recordPaths(run);
      for (let i = 0; i < paths.length; i++) {
        const started = performance.now();
        await hub.context.sql.query(statements[i]!.sql, statements[i]!.params);
        const sqlMs = performance.now() - started;
        const apiMs = (await timed(paths[i]!)).ms;
        perRequest[i]!.sql.push(sqlMs);
        perRequest[i]!.api.push(apiMs);
        sql += sqlMs;
        api += apiMs;
      }
      peerSums.push(sql);
      apiSums.push(api);
    }
    const peer = stats(peerSums);
    const api = stats(apiSums);
    rows.push(
      `| record: the same 15, API and hand-written SQL alternating (sum) | ${api.median.toFixed(1)} / ${peer.median.toFixed(1)} | ${api.p95.toFixed(1)} / ${peer.p95.toFixed(1)} | API / SQL = ${(api.median / peer.median).toFixed(1)}× median, ${(api.p95 / peer.p95).toFixed(1)}× p95 |`,
    );
    const breakdown = perRequest.map(({ api: a, sql: q }, i) => {
      const as = stats(a);
      const qs = stats(q);
      return `| ${requestNames[i]!} | ${as.median.toFixed(1)} | ${as.p95.toFixed(1)} | ${qs.median.toFixed(1)} | ${qs.p95.toFixed(1)} | ${(as.median / qs.median).toFixed(1)}× |`;
    });

    // Side by side: the INS lookup as bare SQL on the same database (index scan + the resource rows).
    const sqlSamples: number[] = [];
    const apiSamples: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const p = pick(run + 500);
      let started = performance.now();
      await hub.context.sql.query(
        `SELECT r.content FROM sp_token t JOIN resources r ON r.resource_type = t.resource_type AND r.id = t.id AND NOT r.deleted
          WHERE t.resource_type = 'Patient' AND t.param = 'identifier' AND t.code = $1 AND t.system = ANY($2::text[]) LIMIT 21`,
        [p.ins, Object.values(INS_SYSTEMS)],
      );
      sqlSamples.push(performance.now() - started);
      started = performance.now();
      await timed(searches[0]!.path(run + 500));
      apiSamples.push(performance.now() - started);
    }
    const sqlStats = stats(sqlSamples);
    const apiStats = stats(apiSamples);
    rows.push(
      `| INS lookup as bare SQL (same database) | ${sqlStats.median.toFixed(2)} | ${sqlStats.p95.toFixed(2)} | API / SQL = ${(apiStats.median / sqlStats.median).toFixed(1)}× (median) |`,
    );

    process.stdout.write(
      `\nKeney Hub UI bench — ${PROFILE} profile, ${PATIENTS.toLocaleString('en')} patients (+ ${RECORDS} full records), ${RUNS} runs each, ${new Date().toISOString().slice(0, 10)}\n` +
        `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n\n` +
        `| what | median ms | p95 ms | note |\n| --- | ---: | ---: | --- |\n${rows.join('\n')}\n\n` +
        `Opening a record, request by request (API = HTTP round trip on loopback; SQL = the hand-written peer):\n\n` +
        `| request | API median | API p95 | SQL median | SQL p95 | API / SQL |\n| --- | ---: | ---: | ---: | ---: | ---: |\n${breakdown.join('\n')}\n`,
    );
  } finally {
    await hub?.stop().catch(() => undefined);
    await dropDatabase?.().catch((error: Error) =>
      process.stderr.write(`could not drop the bench database: ${error.message}\n`),
    );
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
