// Acceptance 2, on every profile (embedded; PostgreSQL; PostgreSQL + Kafka): an MLLP client that is not ours
// (@medplum/hl7's Hl7Client) sends a stream of messages over 16 connections, some of them twice; every message
// is acknowledged AA, stored once and applied once; malformed ones get AE/AR with an ERR segment (condition
// code and location) and sit in the error state.
import type { Bundle } from '@medplum/fhirtypes';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_PROFILES } from '../test/hub-harness.js';
import { eventually, openChannelHub, oru, TEST_OBSERVATION_SYSTEM, type ChannelTestHub } from './test-support.js';

const CONNECTIONS = 16;
const PER_CONNECTION = 30;

const CHANNEL = `source:
  type: mllp
  host: 127.0.0.1
  port: 0
mapping: test/patient
destinations:
  - type: store
`;

function msa(reply: Hl7Message): { code: string; controlId: string; err: string[] } {
  return {
    code: reply.getSegment('MSA')?.getField(1)?.toString() ?? '',
    controlId: reply.getSegment('MSA')?.getField(2)?.toString() ?? '',
    err: reply.getAllSegments('ERR').map((s) => s.toString()),
  };
}

for (const { profile, available } of HUB_PROFILES) {
  describe.skipIf(!available())(
    `acceptance: a third-party MLLP client over ${CONNECTIONS} connections (${profile})`,
    () => {
      let hub: ChannelTestHub;
      let port: number;
      beforeAll(async () => {
        hub = await openChannelHub(profile, { acceptance: CHANNEL });
        port = hub.channels.engine!.listenerPort('acceptance')!;
      });
      afterAll(async () => hub?.close());

      it('acknowledges every message AA, stores it once, applies it once — resends included', async () => {
        const acks = await Promise.all(
          Array.from({ length: CONNECTIONS }, async (_, c) => {
            const client = new Hl7Client({ host: '127.0.0.1', port });
            const results: { controlId: string; code: string; ackFor: string }[] = [];
            try {
              for (let m = 0; m < PER_CONNECTION; m++) {
                const controlId = `C${c}-M${m}`;
                const message = Hl7Message.parse(oru(controlId, `PAT-${c}`, [`${c}.${m}`]));
                const reply = msa(await client.sendAndWait(message, { timeoutMs: 60_000 }));
                results.push({ controlId, code: reply.code, ackFor: reply.controlId });
                // Every fifth message is sent again (a sender that lost the ACK): answered the same, applied once.
                if (m % 5 === 0) {
                  const again = msa(
                    await client.sendAndWait(Hl7Message.parse(oru(controlId, `PAT-${c}`, [`${c}.${m}`])), {
                      timeoutMs: 60_000,
                    }),
                  );
                  results.push({ controlId, code: again.code, ackFor: again.controlId });
                }
              }
            } finally {
              await client.close();
            }
            return results;
          }),
        );
        const all = acks.flat();
        expect(all.filter((a) => a.code !== 'AA' || a.ackFor !== a.controlId)).toEqual([]);
        const unique = CONNECTIONS * PER_CONNECTION;
        expect(all).toHaveLength(unique + CONNECTIONS * Math.ceil(PER_CONNECTION / 5));

        // Stored once each, with the resends counted as duplicates.
        const messages = hub.channels.messages!;
        const stored: { id: string; status: string; duplicates: number }[] = [];
        let cursor: string | undefined;
        do {
          const page = await messages.search({ channel: 'acceptance', limit: 1000, ...(cursor ? { cursor } : {}) });
          stored.push(...page.messages);
          cursor = page.next;
        } while (cursor);
        expect(stored).toHaveLength(unique);
        expect(stored.filter((m) => m.status !== 'sent')).toEqual([]);
        expect(stored.reduce((n, m) => n + m.duplicates, 0)).toBe(CONNECTIONS * Math.ceil(PER_CONNECTION / 5));

        // Applied once each: one applied change set per message, one Observation per message, one Patient per connection.
        const sql = hub.hub.context.sql;
        await eventually(
          async () => {
            const n = await sql.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM applied_change_sets WHERE status = 'applied'`,
            );
            return n.rows[0]!.n === unique || undefined;
          },
          `${unique} applied change sets`,
          60_000,
        );
        const observations = await hub.hub.app.inject({
          method: 'GET',
          url: `/fhir/Observation?identifier=${TEST_OBSERVATION_SYSTEM}|&_count=1&_total=accurate`,
          headers: hub.auth,
        });
        expect((observations.json() as Bundle).total).toBe(unique);
        const versions = await sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM resource_history WHERE resource_type = 'Observation'`,
        );
        expect(versions.rows[0]!.n).toBe(unique);
        const patients = await sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM resources WHERE resource_type = 'Patient'`,
        );
        expect(patients.rows[0]!.n).toBe(CONNECTIONS);
      }, 300_000);

      it('answers malformed messages with AE/AR and an ERR (condition code and location); they sit in the error state', async () => {
        const client = new Hl7Client({ host: '127.0.0.1', port });
        try {
          const noPatientId = msa(
            await client.sendAndWait(Hl7Message.parse(oru('BAD-PID', '')), { timeoutMs: 30_000 }),
          );
          expect(noPatientId.code).toBe('AE');
          expect(noPatientId.err[0]).toMatch(
            /^ERR\|\|PID\^1\^3\^1\^1\|207\^Application internal error\^HL70357\|E\|test-pid-required/,
          );
          const noType = msa(
            await client.sendAndWait(Hl7Message.parse(oru('BAD-TYPE', 'PAT-X').replace('ORU^R01^ORU_R01', '')), {
              timeoutMs: 30_000,
            }),
          );
          expect(noType.code).toBe('AR');
          expect(noType.err[0]).toMatch(/^ERR\|\|MSH\^1\^9\^1\^1\|101\^Required field missing\^HL70357/);
          const badSegment = msa(
            await client.sendAndWait(Hl7Message.parse(`${oru('BAD-SEG', 'PAT-X')}obx|1|NM\r`), { timeoutMs: 30_000 }),
          );
          expect(badSegment.code).toBe('AR');
          expect(badSegment.err[0]).toContain('100^Segment sequence error^HL70357');
        } finally {
          await client.close();
        }
        const errors = await hub.channels.messages!.search({ channel: 'acceptance', status: ['error'] });
        expect(errors.messages.map((m) => [m.controlId, m.errorStage]).sort()).toEqual([
          ['BAD-PID', 'map'],
          ['BAD-SEG', 'decode'],
          ['BAD-TYPE', 'decode'],
        ]);
      });
    },
  );
}
