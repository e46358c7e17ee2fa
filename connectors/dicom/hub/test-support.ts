// Helpers of the tests of DICOM in a hub (a hub with the DICOM module driven through inject, storescu into its
// DIMSE port) — not API.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { staticRegistry } from '../../../engine/mapper-registry.js';
import { channelsModule } from '../../../engine/module.js';
import { openTestHub, type HubProfile, type TestHub } from '../../../test/hub-harness.js';
import { runTool, type ToolResult } from '../test-support.js';
import { dicomModule, type DicomModule, type DicomModuleOptions } from './dicom-module.js';

/**
 * A hub as in production: the channel engine (no HL7 channel here) and the DICOM module sharing its statistics,
 * DIMSE on a free loopback port. `work` is the test's temporary directory.
 */
export async function openDicomHub(
  profile: HubProfile,
  work: string,
  options: Omit<DicomModuleOptions, 'channels'>,
): Promise<{ t: TestHub; dicom: DicomModule }> {
  const channels = channelsModule({
    channelsDir: join(work, 'no-hl7-channels'),
    mappers: staticRegistry([]),
    env: {},
    watch: false,
  });
  const dicom = dicomModule({ port: 0, host: '127.0.0.1', channels, ...options });
  return { t: await openTestHub(profile, { modules: [channels, dicom] }), dicom };
}

export interface MessageSummary {
  id: string;
  status: string;
  controlId: string;
  channel: string;
}

export interface MessageDetail extends MessageSummary {
  warnings: { code: string; message: string }[];
  deliveries: {
    destination: string;
    status: string;
    attempts: number;
    lastError: string | null;
    response: string | null;
  }[];
}

/** The admin API of a test hub, as JSON; any answer but 2xx fails the test with the body. */
export function adminApi(t: TestHub) {
  const call = async <T>(url: string, method: 'GET' | 'POST' = 'GET', body?: unknown): Promise<T> => {
    const response = await t.hub.app.inject({
      method,
      url,
      headers: t.auth,
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    expect(response.statusCode, response.body).toBeLessThan(300);
    return JSON.parse(response.body) as T;
  };
  return {
    call,
    /** The messages of a channel about one instance (control id = SOP Instance UID). */
    messagesOf: async (channel: string, controlId: string) =>
      (await call<{ messages: MessageSummary[] }>(`/admin/messages?channel=${channel}&controlId=${controlId}`))
        .messages,
    detail: (id: string) => call<MessageDetail>(`/admin/messages/${id}`),
  };
}

/** Sends Part-10 files with dcmtk's storescu from `callingAe` to the hub's SCP (called AE KENEY). */
export async function storescu(work: string, port: number, callingAe: string, files: Buffer[]): Promise<ToolResult> {
  const paths: string[] = [];
  for (const [i, file] of files.entries()) {
    const path = join(work, `${callingAe}-${Date.now()}-${i}.dcm`);
    await writeFile(path, file);
    paths.push(path);
  }
  return runTool('storescu', ['-aet', callingAe, '-aec', 'KENEY', '127.0.0.1', String(port), ...paths]);
}
