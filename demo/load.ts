// Loads the demo data set into a running hub through its real doors: HL7 v2 over MLLP to its channels (the
// default inbound one, and the demo's own when they are loaded), the DIM's coding through the FHIR API, the CT
// study by STOW-RS to /dicomweb. Each step says what happened; a step the hub cannot take (no DICOM module, a
// demo channel not loaded) is skipped with the reason, never faked.
import { randomBytes } from 'node:crypto';
import type { Bundle } from '@medplum/fhirtypes';
import { MllpClient } from '../mllp/index.js';
import { DEMO, DEMO_CHANNELS, PATIENTS, demoDataset, type DemoChannel, type DemoDataset } from './dataset.js';

export interface LoadDemoOptions {
  /** The hub's base URL, e.g. http://127.0.0.1:8080. */
  hubUrl: string;
  /** An admin token (channels are listed through /admin). */
  token: string;
  /** Host of the hub's MLLP listeners (default: the hub URL's host). */
  mllpHost?: string;
  /** The data set's reference time (default: now). */
  now?: Date;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface DemoStep {
  label: string;
  outcome: 'ok' | 'skipped' | 'failed';
  detail: string;
}

export interface DemoReport {
  steps: DemoStep[];
  /** The patient to open first (Hélène BERTRAND): its FHIR id. */
  featuredPatientId?: string;
  ok: boolean;
}

export class DemoError extends Error {}

interface ChannelInfo {
  id: string;
  state: string;
  source: { type: string; endpoint?: string; listening: boolean } | null;
}

async function call(options: LoadDemoOptions, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${options.token}`);
  try {
    return await fetch(new URL(path, options.hubUrl), { ...init, headers });
  } catch (error) {
    throw new DemoError(
      `The hub at ${options.hubUrl} cannot be reached (${(error as Error).message}): start it (npm start) or pass --url.`,
    );
  }
}

async function json<T>(options: LoadDemoOptions, path: string, init: RequestInit = {}): Promise<T> {
  const response = await call(options, path, init);
  const text = await response.text();
  if (response.status === 401)
    throw new DemoError(`The hub refused the token (401): pass an admin token with --token (or KENEY_ADMIN_TOKEN).`);
  if (!response.ok)
    throw new DemoError(`${init.method ?? 'GET'} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** The MLLP port each demo channel listens on, from /admin/channels. */
async function channelPorts(options: LoadDemoOptions): Promise<Map<DemoChannel, number>> {
  const { channels } = await json<{ channels: ChannelInfo[] }>(options, '/admin/channels');
  const ports = new Map<DemoChannel, number>();
  for (const [key, id] of Object.entries(DEMO_CHANNELS) as [DemoChannel, string][]) {
    const channel = channels.find((c) => c.id === id);
    const port =
      channel?.source?.type === 'mllp' && channel.source.listening
        ? Number(/:(\d+)$/.exec(channel.source.endpoint ?? '')?.[1])
        : NaN;
    if (Number.isInteger(port) && port > 0) ports.set(key, port);
  }
  return ports;
}

function ackCode(ack: Buffer): string {
  const msa = ack
    .toString('latin1')
    .split(/\r\n?|\n/)
    .find((s) => s.startsWith('MSA'));
  return msa?.split('|')[1] ?? '?';
}

function ackError(ack: Buffer): string {
  const segments = ack.toString('utf8').split(/\r\n?|\n/);
  const err = segments.find((s) => s.startsWith('ERR'));
  return err?.split('|')[8] ?? segments.find((s) => s.startsWith('MSA'))?.split('|')[3] ?? '';
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new DemoError(`Timed out waiting for ${what}: is the hub's projector running (GET /readyz)?`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** multipart/related; type="application/dicom" body for STOW-RS. */
export function stowBody(instances: Buffer[]): { body: Buffer; contentType: string } {
  const boundary = `keney-demo-${randomBytes(12).toString('hex')}`;
  const parts = instances.flatMap((instance) => [
    Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
    instance,
    Buffer.from('\r\n'),
  ]);
  return {
    body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
  };
}

export async function findPatient(options: LoadDemoOptions, ipp: string): Promise<string | undefined> {
  const bundle = await json<Bundle>(
    options,
    `/fhir/Patient?identifier=${encodeURIComponent(`urn:oid:${DEMO.ippOid}|${ipp}`)}&_count=1`,
  );
  return bundle.entry?.[0]?.resource?.id;
}

export async function loadDemo(
  options: LoadDemoOptions,
  dataset: DemoDataset = demoDataset(options.now),
): Promise<DemoReport> {
  const log = options.log ?? (() => undefined);
  const steps: DemoStep[] = [];
  const step = (label: string, outcome: DemoStep['outcome'], detail: string) => {
    steps.push({ label, outcome, detail });
    log(`${outcome === 'ok' ? '✓' : outcome === 'skipped' ? '–' : '✗'} ${label}: ${detail}`);
  };
  const ports = await channelPorts(options);
  if (!ports.has('default'))
    throw new DemoError(
      `The hub has no running "${DEMO_CHANNELS.default}" MLLP channel (see GET /admin/channels): the demo sends its HL7 messages there.`,
    );
  const host = options.mllpHost ?? new URL(options.hubUrl).hostname;
  const clients = new Map<number, MllpClient>();
  try {
    for (const message of dataset.messages) {
      const port = ports.get(message.channel);
      if (!port) {
        step(
          message.label,
          'skipped',
          `the channel ${DEMO_CHANNELS[message.channel]} is not loaded in this hub (\`keney demo\` without --url starts a hub that has it)`,
        );
        continue;
      }
      let client = clients.get(port);
      if (!client) {
        client = new MllpClient({ host, port, connectTimeoutMs: 5000, ackTimeoutMs: 60_000 });
        clients.set(port, client);
      }
      const ack = await client.send(Buffer.from(message.hl7, 'utf8'));
      const code = ackCode(ack);
      const accepted = code === 'AA' || code === 'CA';
      const asExpected = message.expect === 'AA' ? accepted : code === 'AE' || code === 'AR' || code === 'CE';
      step(
        message.label,
        asExpected ? 'ok' : 'failed',
        `${message.controlId} → ${code}${accepted ? '' : ` (${ackError(ack)})`}${message.expect === 'AE' && asExpected ? ' — expected: this one fails on purpose' : ''}`,
      );
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close().catch(() => undefined)));
  }

  // The DIM's coding refers to the stays by NDA: wait until the projection has them.
  const stayNda = '250012340';
  await waitFor('the demo stay', async () => {
    const bundle = await json<Bundle>(
      options,
      `/fhir/Encounter?identifier=${encodeURIComponent(`urn:oid:${DEMO.ndaOid}|${stayNda}`)}&_count=1`,
    );
    return bundle.entry?.length ? true : undefined;
  });
  const transaction = await call(options, '/fhir', {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify(dataset.dimBundle),
  });
  step(
    'Codage du DIM (CIM-10, CCAM) par l’API FHIR',
    transaction.ok ? 'ok' : 'failed',
    transaction.ok
      ? `${dataset.dimBundle.entry?.length} conditions and procedures`
      : `${transaction.status}: ${(await transaction.text()).slice(0, 300)}`,
  );

  const { body, contentType } = stowBody(dataset.study.instances);
  const stow = await call(options, '/dicomweb/studies', {
    method: 'POST',
    headers: { 'content-type': contentType, accept: 'application/dicom+json' },
    body: Uint8Array.from(body),
  });
  if (stow.status === 404)
    step(
      'Scanner thoracique (DICOM, STOW-RS)',
      'skipped',
      'this hub has no DICOMweb endpoint (/dicomweb): the DICOM module is not loaded',
    );
  else
    step(
      'Scanner thoracique (DICOM, STOW-RS)',
      stow.ok ? 'ok' : 'failed',
      stow.ok
        ? `${dataset.study.instances.length} images, study ${dataset.study.studyInstanceUid}`
        : `${stow.status}: ${(await stow.text()).slice(0, 300)}`,
    );

  const featuredPatientId = await waitFor('the demo patient', () => findPatient(options, PATIENTS.helene.ipp));
  return { steps, featuredPatientId, ok: steps.every((s) => s.outcome !== 'failed') };
}
