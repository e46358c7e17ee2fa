// The behaviour every ChangeLog implementation owes its users (the projector, the channels, the REST API),
// as a reusable Vitest suite. It relies on the ChangeLog interface only, and tolerates a log that already
// holds records (it looks only at what it appended itself, from the end offsets it saw first).
//
// Use it from an implementation's test file:
//   describe.skipIf(!hasService('kafka'))('KafkaChangeLog', () => {
//     describeChangeLogContract('kafka', async () => ({ log: new KafkaChangeLog({ … }), flushes: … }));
//   });
import { randomBytes, randomUUID } from 'node:crypto';
import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeSet, LogRecord } from '../change-set.js';
import { OriginKind, partitionFor } from '../change-set.js';
import type { AppendResult, ChangeLog } from './change-log.js';

export interface ChangeLogContractSubject {
  /** A log, not yet initialized (the suite calls init()). */
  log: ChangeLog;
  /**
   * Durable writes (group commits) made by this log so far, if the implementation can tell. With it, the suite
   * also checks that concurrent appends share writes.
   */
  flushes?: () => number;
  /** Frees what the subject holds besides the log (database, topic…); called after log.close(). */
  dispose?: () => Promise<void>;
}

/** Opens a log on the storage under test. Called once for the suite and once more for the close tests. */
export type ChangeLogContractFactory = () => Promise<ChangeLogContractSubject>;

/** A waiting read in these tests waits longer than a test may run: only an early return lets it pass. */
const LONGER_THAN_A_TEST_MS = 120_000;

/** Key (13 digits) of a French NIR/INS: 97 − (number mod 97). */
function nirKey(first13: string): string {
  return String(97 - Number(BigInt(first13) % 97n)).padStart(2, '0');
}

/**
 * A realistic change set: a transaction Bundle about one patient (test INS), conditional on business
 * identifiers as the channels write them, with text that exercises UTF-8 (accents, combining marks,
 * characters outside the BMP, quotes, backslashes, line breaks).
 */
export function sampleChangeSet(
  partitionKey: string,
  options: { note?: string; attachmentBytes?: number } = {},
): ChangeSet {
  const nir13 = `2${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`;
  const ins = `${nir13}${nirKey(nir13)}`;
  const ipp = `IPP-${randomBytes(4).toString('hex')}`;
  const nda = `NDA-${randomBytes(4).toString('hex')}`;
  const patientUrl = `urn:uuid:${randomUUID()}`;
  const encounterUrl = `urn:uuid:${randomUUID()}`;
  const entry: NonNullable<Bundle['entry']> = [
    {
      fullUrl: patientUrl,
      resource: {
        resourceType: 'Patient',
        meta: { profile: ['https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins'] },
        identifier: [
          { use: 'official', system: 'urn:oid:1.2.250.1.213.1.4.10', value: ins },
          { use: 'usual', system: 'urn:oid:1.2.250.1.71.4.2.7', value: ipp },
        ],
        name: [{ use: 'official', family: 'Lefèvre-Ñúñez', given: ['Zoé', 'Anaïs'] }],
        gender: 'female',
        birthDate: '1985-12-07',
        address: [{ line: ['3 rue de l’Église', 'Bât. “Cèdre”'], city: 'Saint-Étienne', postalCode: '42000' }],
      },
      request: { method: 'PUT', url: `Patient?identifier=urn:oid:1.2.250.1.213.1.4.10|${ins}` },
    },
    {
      fullUrl: encounterUrl,
      resource: {
        resourceType: 'Encounter',
        status: 'in-progress',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
        identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.2', value: nda }],
        subject: { reference: patientUrl },
      },
      request: { method: 'PUT', url: `Encounter?identifier=urn:oid:1.2.250.1.71.4.2.2|${nda}` },
    },
    {
      resource: {
        resourceType: 'Observation',
        status: 'final',
        code: {
          coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }],
        },
        subject: { reference: patientUrl },
        encounter: { reference: encounterUrl },
        valueQuantity: { value: 1.07, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
        note: [
          {
            text:
              options.note ??
              'À jeun ; prélèvement « veineux » — contrôle demandé.\nDiacritiques combinés : e\u0301 ; hors BMP : 𝄞 🩸 ; ' +
                'guillemets "doubles" et \\ barre oblique inverse.',
          },
        ],
      },
      request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=urn:keney:obx|${nda}-1` },
    },
  ];
  if (options.attachmentBytes) {
    entry.push({
      resource: {
        resourceType: 'DocumentReference',
        status: 'current',
        subject: { reference: patientUrl },
        content: [
          {
            attachment: {
              contentType: 'application/pdf',
              title: 'Compte rendu d’hospitalisation',
              data: randomBytes(options.attachmentBytes).toString('base64'),
            },
          },
        ],
      },
      request: { method: 'POST', url: 'DocumentReference' },
    });
  }
  return {
    id: randomUUID(),
    partitionKey,
    origin: {
      kind: OriginKind.Channel,
      channel: 'adt-pam-fr',
      messageId: randomUUID(),
      controlId: `MSG${randomBytes(5).toString('hex')}`,
      sender: 'HEXAGONE^CHU-SAINT-ETIENNE',
      rawSha256: randomBytes(32).toString('hex'),
    },
    bundle: { resourceType: 'Bundle', type: 'transaction', entry },
  };
}

export function describeChangeLogContract(name: string, open: ChangeLogContractFactory): void {
  describe(`ChangeLog contract (${name})`, () => {
    let subject: ChangeLogContractSubject;
    let log: ChangeLog;

    beforeAll(async () => {
      subject = await open();
      log = subject.log;
      await log.init();
    });

    afterAll(async () => {
      await log?.close();
      await subject?.dispose?.();
    });

    const uniqueKey = (label: string) => `${label}-${randomUUID()}`;

    /** The records of partition p, from `from` to the end (read in pages), whose change set id is in `ids`. */
    async function readIds(partition: number, from: number, ids: Set<string>): Promise<LogRecord[]> {
      const found: LogRecord[] = [];
      let offset = from;
      for (;;) {
        const page = await log.read(partition, offset, { maxRecords: 100 });
        if (page.length === 0) return found;
        for (const record of page) if (ids.has(record.changeSet.id)) found.push(record);
        offset = page[page.length - 1]!.offset + 1;
      }
    }

    it('init() can be called again (idempotent) and the partition count is fixed and positive', async () => {
      await log.init();
      expect(Number.isInteger(log.partitions)).toBe(true);
      expect(log.partitions).toBeGreaterThan(0);
      expect(await log.endOffsets()).toHaveLength(log.partitions);
    });

    it('a change set read back is the one appended, at the position and time append() reported', async () => {
      const changeSet = sampleChangeSet(uniqueKey('patient'));
      const before = Date.now();
      const [result] = await log.append([changeSet]);
      const after = Date.now();
      expect(result!.partition).toBe(partitionFor(changeSet.partitionKey, log.partitions));
      expect(Number.isSafeInteger(result!.offset)).toBe(true);
      expect(new Date(result!.appendedAt).toISOString()).toBe(result!.appendedAt);
      // The log's clock, not the caller's: allow for a clock difference between machines, not for nonsense.
      expect(Math.abs(Date.parse(result!.appendedAt) - (before + after) / 2)).toBeLessThan(10 * 60_000);

      const [record] = await log.read(result!.partition, result!.offset, { maxRecords: 1 });
      expect(record).toEqual({
        partition: result!.partition,
        offset: result!.offset,
        appendedAt: result!.appendedAt,
        changeSet,
      });
    });

    it('one append() of several change sets answers in input order, each on its key’s partition', async () => {
      const changeSets = Array.from({ length: 8 }, (_, i) => sampleChangeSet(uniqueKey(`multi-${i}`)));
      const results = await log.append(changeSets);
      expect(results).toHaveLength(changeSets.length);
      for (const [i, changeSet] of changeSets.entries()) {
        const result = results[i]!;
        expect(result.partition).toBe(partitionFor(changeSet.partitionKey, log.partitions));
        const [record] = await log.read(result.partition, result.offset, { maxRecords: 1 });
        expect(record!.changeSet.id).toBe(changeSet.id);
      }
      expect(await log.append([])).toEqual([]);
    });

    it('keeps one key’s changes in order, at strictly increasing offsets', async () => {
      const key = uniqueKey('ordered');
      const partition = partitionFor(key, log.partitions);
      const start = (await log.endOffsets())[partition]!;
      const appended: AppendResult[] = [];
      const changeSets = Array.from({ length: 25 }, (_, i) => sampleChangeSet(key, { note: `étape ${i}` }));
      for (const changeSet of changeSets) appended.push(...(await log.append([changeSet])));
      for (let i = 1; i < appended.length; i++) expect(appended[i]!.offset).toBeGreaterThan(appended[i - 1]!.offset);
      expect(appended[0]!.offset).toBeGreaterThanOrEqual(start);

      const records = await readIds(partition, start, new Set(changeSets.map((c) => c.id)));
      expect(records.map((r) => r.changeSet.id)).toEqual(changeSets.map((c) => c.id));
      expect(records.map((r) => r.offset)).toEqual(appended.map((a) => a.offset));
    });

    it('reads from the middle of a partition, and at most maxRecords at a time', async () => {
      const key = uniqueKey('middle');
      const partition = partitionFor(key, log.partitions);
      const changeSets = Array.from({ length: 10 }, () => sampleChangeSet(key));
      const results: AppendResult[] = [];
      for (const changeSet of changeSets) results.push(...(await log.append([changeSet])));

      const fromMiddle = await log.read(partition, results[4]!.offset, { maxRecords: 3 });
      expect(fromMiddle.map((r) => r.changeSet.id)).toEqual(changeSets.slice(4, 7).map((c) => c.id));
      const next = await log.read(partition, fromMiddle[2]!.offset + 1, { maxRecords: 100 });
      expect(next.map((r) => r.changeSet.id)).toEqual(changeSets.slice(7).map((c) => c.id));
      for (const page of [fromMiddle, next]) {
        for (let i = 1; i < page.length; i++) expect(page[i]!.offset).toBeGreaterThan(page[i - 1]!.offset);
      }
      const one = await log.read(partition, results[0]!.offset, { maxRecords: 1 });
      expect(one.map((r) => r.changeSet.id)).toEqual([changeSets[0]!.id]);
    });

    it('endOffsets() moves past what was appended, on that partition only; nothing is read from the end', async () => {
      const key = uniqueKey('end');
      const partition = partitionFor(key, log.partitions);
      const before = await log.endOffsets();
      const results = await log.append([sampleChangeSet(key), sampleChangeSet(key)]);
      const after = await log.endOffsets();
      expect(after).toHaveLength(log.partitions);
      expect(after[partition]).toBeGreaterThan(results[1]!.offset);
      expect(results[0]!.offset).toBeGreaterThanOrEqual(before[partition]!);
      for (let p = 0; p < log.partitions; p++) if (p !== partition) expect(after[p]).toBe(before[p]);
      expect(await log.read(partition, after[partition]!)).toEqual([]);
      expect(await log.read(partition, after[partition]!, { waitMs: 50 })).toEqual([]);
    });

    it('a waiting read returns as soon as a record arrives', async () => {
      const key = uniqueKey('long-poll');
      const partition = partitionFor(key, log.partitions);
      const end = (await log.endOffsets())[partition]!;
      const waiting = log.read(partition, end, { waitMs: LONGER_THAN_A_TEST_MS });
      const changeSet = sampleChangeSet(key);
      const [result] = await log.append([changeSet]);
      const records = await waiting;
      expect(records.length).toBeGreaterThan(0);
      expect(records[0]!.offset).toBe(result!.offset);
      expect(records[0]!.changeSet).toEqual(changeSet);
    });

    it('an aborted waiting read returns at once with nothing', async () => {
      const partition = 0;
      const end = (await log.endOffsets())[partition]!;
      const controller = new AbortController();
      const waiting = log.read(partition, end, { waitMs: LONGER_THAN_A_TEST_MS, signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      expect(await waiting).toEqual([]);
      // Already aborted: does not wait at all.
      expect(await log.read(partition, end, { waitMs: LONGER_THAN_A_TEST_MS, signal: controller.signal })).toEqual([]);
      // The log still works after an abort.
      const key = uniqueKey('after-abort');
      const [result] = await log.append([sampleChangeSet(key)]);
      expect(await log.read(result!.partition, result!.offset)).toHaveLength(1);
    });

    it('200 concurrent appends share writes, and each is readable exactly once, in submission order per key', async () => {
      const keys = Array.from({ length: 20 }, (_, i) => uniqueKey(`concurrent-${i}`));
      const start = await log.endOffsets();
      const flushesBefore = subject.flushes?.();
      const changeSets = Array.from({ length: 200 }, (_, i) => sampleChangeSet(keys[i % keys.length]!));
      const results = (await Promise.all(changeSets.map((changeSet) => log.append([changeSet])))).map((r) => r[0]!);
      if (subject.flushes) {
        // All 200 were submitted together: a group commit needs a handful of writes, not one per append.
        expect(subject.flushes() - flushesBefore!).toBeLessThanOrEqual(10);
      }
      const positions = new Set(results.map((r) => `${r.partition}:${r.offset}`));
      expect(positions.size).toBe(200);

      const ids = new Set(changeSets.map((c) => c.id));
      const seen: LogRecord[] = [];
      for (let p = 0; p < log.partitions; p++) seen.push(...(await readIds(p, start[p]!, ids)));
      expect(seen).toHaveLength(200);
      expect(new Set(seen.map((r) => r.changeSet.id)).size).toBe(200);
      const byId = new Map(seen.map((r) => [r.changeSet.id, r]));
      for (const [i, changeSet] of changeSets.entries()) {
        const record = byId.get(changeSet.id)!;
        expect({ partition: record.partition, offset: record.offset }).toEqual({
          partition: results[i]!.partition,
          offset: results[i]!.offset,
        });
      }
      for (const key of keys) {
        const offsets = changeSets
          .map((c, i) => (c.partitionKey === key ? results[i]!.offset : -1))
          .filter((o) => o >= 0);
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
    });

    it('places keys with the shared FNV-1a hash, the same on every profile', () => {
      // Published FNV-1a 32-bit test vectors: "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
      expect(partitionFor('', 1000)).toBe(0x811c9dc5 % 1000);
      expect(partitionFor('a', 12)).toBe(0xe40c292c % 12);
      expect(partitionFor('foobar', log.partitions)).toBe(0xbf9cf968 % log.partitions);
      expect(partitionFor('foobar', 1)).toBe(0);
      const key = uniqueKey('stable');
      expect(partitionFor(key, log.partitions)).toBe(partitionFor(`${key}`, log.partitions));
    });

    it('round-trips a Bundle of several megabytes', async () => {
      const changeSet = sampleChangeSet(uniqueKey('large'), { attachmentBytes: 4 * 1024 * 1024 });
      expect(JSON.stringify(changeSet).length).toBeGreaterThan(5_000_000);
      const [result] = await log.append([changeSet]);
      const [record] = await log.read(result!.partition, result!.offset, { maxRecords: 1 });
      expect(record!.changeSet).toEqual(changeSet);
    });

    it('close() lets queued appends finish, then refuses appends with a clear error', async () => {
      const other = await open();
      try {
        await other.log.init();
        const pending = Array.from({ length: 20 }, () => other.log.append([sampleChangeSet(uniqueKey('closing'))]));
        await other.log.close();
        const settled = await Promise.allSettled(pending);
        expect(settled.map((s) => s.status)).toEqual(settled.map(() => 'fulfilled'));
        await expect(other.log.append([sampleChangeSet(uniqueKey('late'))])).rejects.toThrow(/closed/i);
        await other.log.close(); // a second close is harmless
      } finally {
        await other.log.close();
        await other.dispose?.();
      }
    });
  });
}
