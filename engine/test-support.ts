// Test helpers for engine/ and connectors/ tests: a small mapper of our own (until the declarative mappings are
// used in a test), hubs with a channel directory, HL7 samples. Not part of the public API.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, BundleEntry, Observation, Patient } from '@medplum/fhirtypes';
import { readCx, tryParseHl7Message, type Hl7Message } from '../adapters/hl7v2/index.js';
import type { Mapper, MappingIssue, QualityChecker } from '../mappings/mapper.js';
import { openTestHub, type HubProfile, type TestHub } from '../test/hub-harness.js';
import type { Encoder, MapperRegistry } from './mapper-registry.js';
import { staticRegistry } from './mapper-registry.js';
import { channelsModule, type ChannelsModule, type ChannelsModuleOptions } from './module.js';

export const TEST_PATIENT_SYSTEM = 'urn:oid:1.2.250.1.999.1.1';
export const TEST_OBSERVATION_SYSTEM = 'urn:keney:test:observation';

/**
 * PID-3 → Patient (conditional update on the identifier); each OBX → Observation (identifier MSH-10/OBX-1).
 * Errors: no PID (rule test-pid-required), PID-3 without a value (at PID-3.1). Warning: no birth date. An OBX-5 of
 * ORPHAN makes a change set the store refuses (a conditional reference that matches nobody).
 */
export const testMapper: Mapper<Hl7Message> = {
  id: 'test/patient',
  map(message) {
    const issues: MappingIssue[] = [];
    const pid = message.segment('PID');
    const empty: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [] };
    if (!pid) {
      return {
        bundle: empty,
        issues: [
          {
            severity: 'error',
            code: 'PID_MISSING',
            message: 'The message has no PID segment: the patient is unknown.',
            rule: 'test-pid-required',
            location: 'PID',
          },
        ],
      };
    }
    const cx = readCx(pid.field(3).repetition(1));
    if (!cx?.id) {
      return {
        bundle: empty,
        issues: [
          {
            severity: 'error',
            code: 'PATIENT_ID_MISSING',
            message: 'PID-3 has no identifier value.',
            rule: 'test-pid-required',
            location: 'PID-3.1',
          },
        ],
      };
    }
    if (!pid.get('7'))
      issues.push({
        severity: 'warning',
        code: 'BIRTH_DATE_MISSING',
        message: 'PID-7 (birth date) is empty.',
        location: 'PID-7',
      });
    const criteria = `identifier=${TEST_PATIENT_SYSTEM}|${cx.id}`;
    const patient: Patient = {
      resourceType: 'Patient',
      identifier: [{ system: TEST_PATIENT_SYSTEM, value: cx.id }],
      ...(pid.get('5.1')
        ? { name: [{ family: pid.get('5.1')!, ...(pid.get('5.2') ? { given: [pid.get('5.2')!] } : {}) }] }
        : {}),
    };
    const entries: BundleEntry[] = [
      {
        fullUrl: 'urn:uuid:00000000-0000-4000-8000-000000000001',
        resource: patient,
        request: { method: 'PUT', url: `Patient?${criteria}` },
      },
    ];
    const controlId = message.header.controlId ?? 'none';
    message.segments('OBX').forEach((obx, i) => {
      const value = obx.get('5') ?? '';
      const observation: Observation = {
        resourceType: 'Observation',
        status: 'final',
        identifier: [{ system: TEST_OBSERVATION_SYSTEM, value: `${controlId}/${obx.get('1') ?? i + 1}` }],
        code: { text: obx.get('3.2') ?? obx.get('3.1') ?? 'unknown' },
        // ORPHAN: a conditional reference to nobody, which the store refuses (a change set rejected after the ACK).
        subject: {
          reference:
            value === 'ORPHAN'
              ? `Patient?identifier=${TEST_PATIENT_SYSTEM}|nobody-${controlId}`
              : 'urn:uuid:00000000-0000-4000-8000-000000000001',
        },
        valueString: value,
      };
      entries.push({
        resource: observation,
        request: {
          method: 'PUT',
          url: `Observation?identifier=${TEST_OBSERVATION_SYSTEM}|${encodeURIComponent(observation.identifier![0]!.value!)}`,
        },
      });
    });
    return {
      bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries },
      partitionKey: `Patient/${TEST_PATIENT_SYSTEM}|${cx.id}`,
      issues,
    };
  },
};

/** Rejects an Observation whose value is QUALITY-REJECT (rule test-quality-value). */
export const testQuality: QualityChecker = {
  check(bundle) {
    const issues: MappingIssue[] = [];
    (bundle.entry ?? []).forEach((entry, i) => {
      const resource = entry.resource as Observation | undefined;
      if (resource?.resourceType === 'Observation' && resource.valueString === 'QUALITY-REJECT') {
        issues.push({
          severity: 'error',
          code: 'QUALITY_VALUE',
          message: 'The observation value QUALITY-REJECT is not acceptable.',
          rule: 'test-quality-value',
          location: `OBX[${i}]-5`,
          expression: 'Observation.valueString',
        });
      }
    });
    return issues;
  },
};

/** Patient → ADT^A08 (outbound channel tests). */
export const testEncoder: Encoder = {
  id: 'test/adt',
  encode(resource, context) {
    const first = resource.resourceType === 'Bundle' ? (resource as Bundle).entry?.[0]?.resource : resource;
    if (first?.resourceType !== 'Patient')
      return { issues: [{ severity: 'error', code: 'OUTBOUND_MISSING_DATA', message: 'test/adt encodes a Patient.' }] };
    const patient = first as Patient;
    const id = patient.identifier?.[0]?.value ?? patient.id ?? '';
    const text = `MSH|^~\\&|KENEY|HUB|DOWN|STREAM|20260101000000||ADT^A08^ADT_A01|${context.changeSetId.slice(0, 20)}|P|2.5\rEVN|A08|20260101000000\rPID|||${id}^^^TEST||${patient.name?.[0]?.family ?? ''}\r`;
    const parsed = tryParseHl7Message(text);
    if (!parsed.ok) return { issues: [{ severity: 'error', code: 'ENCODE', message: parsed.error.message }] };
    return { message: parsed.value, issues: [] };
  },
};

export function testRegistry(): MapperRegistry {
  return staticRegistry([testMapper], { quality: testQuality, encoders: [testEncoder] });
}

export function adt(
  controlId: string,
  patientId: string,
  extra: { family?: string; msh15?: string; msh16?: string; birth?: string } = {},
): string {
  const ack =
    extra.msh15 !== undefined || extra.msh16 !== undefined ? `|||${extra.msh15 ?? ''}|${extra.msh16 ?? ''}` : '';
  return (
    `MSH|^~\\&|ADT|CH-TEST|KENEY|HUB|20260124083000||ADT^A01^ADT_A01|${controlId}|P|2.5${ack}\r` +
    `EVN|A01|20260124083000\r` +
    `PID|||${patientId}^^^CH-TEST^PI||${extra.family ?? 'DUPONT'}^JEAN||${extra.birth ?? '19700101'}|M\r` +
    `PV1||I|CARDIO^101^1\r`
  );
}

export function oru(controlId: string, patientId: string, values: string[] = ['5.2']): string {
  return (
    `MSH|^~\\&|LAB|CH-TEST|KENEY|HUB|20260124083000||ORU^R01^ORU_R01|${controlId}|P|2.5\r` +
    `PID|||${patientId}^^^CH-TEST^PI||MARTIN^ANNE||19800202|F\r` +
    `OBR|1||${controlId}-F|GLU^Glucose\r` +
    values.map((v, i) => `OBX|${i + 1}|NM|GLU^Glucose||${v}|mmol/L|||||F\r`).join('')
  );
}

export interface ChannelTestHub extends TestHub {
  channelsDir: string;
  channels: ChannelsModule;
  writeChannel(id: string, yaml: string): Promise<void>;
}

/** A hub (profile) with the channels module on a fresh channels directory holding the given files. */
export async function openChannelHub(
  profile: HubProfile,
  files: Record<string, string>,
  options: Omit<ChannelsModuleOptions, 'channelsDir'> & { hubEnv?: Record<string, string> } = {},
): Promise<ChannelTestHub> {
  const channelsDir = await mkdtemp(join(tmpdir(), 'keney-channels-'));
  for (const [id, yaml] of Object.entries(files)) await writeFile(join(channelsDir, `${id}.channel.yaml`), yaml);
  const channels = channelsModule({
    channelsDir,
    mappers: options.mappers ?? testRegistry(),
    env: options.env ?? {},
    watch: options.watch ?? false,
    housekeepingIntervalMs: options.housekeepingIntervalMs ?? 500,
    deliveryPollMs: options.deliveryPollMs ?? 200,
    ...(options.connectors ? { connectors: options.connectors } : {}),
  });
  const hub = await openTestHub(profile, { modules: [channels], ...(options.hubEnv ? { env: options.hubEnv } : {}) });
  return {
    ...hub,
    channelsDir,
    channels,
    writeChannel: (id, yaml) => writeFile(join(channelsDir, `${id}.channel.yaml`), yaml),
    async close() {
      await hub.close();
      await rm(channelsDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs` with `what`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** MSA-1, MSA-2 and ERR segments of an ACK. */
export function readAckText(ack: Buffer | string): {
  code: string | undefined;
  controlId: string | undefined;
  err: string[];
} {
  const parsed = tryParseHl7Message(ack);
  if (!parsed.ok) throw new Error(`Not an HL7 ACK: ${String(ack).slice(0, 200)}`);
  const m = parsed.value;
  return {
    code: m.get('MSA-1') ?? undefined,
    controlId: m.get('MSA-2') ?? undefined,
    err: m.segments('ERR').map((s) => s.toString()),
  };
}
