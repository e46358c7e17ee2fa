import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, isNetworkError } from './client.js';

function reply(status: number, body: unknown, type = 'application/json'): Response {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': type },
  });
}

describe('API client', () => {
  it('sends the token and reads searches: matches, included, total, next, warnings', async () => {
    const fetch = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      expect(new Headers(init?.headers).get('authorization')).toBe('Bearer kny_abc');
      return reply(200, {
        resourceType: 'Bundle',
        type: 'searchset',
        total: 2,
        link: [{ relation: 'next', url: 'http://hub/fhir/Patient?_count=1&_offset=1' }],
        entry: [
          { resource: { resourceType: 'Patient', id: 'a' }, search: { mode: 'match' } },
          { resource: { resourceType: 'Provenance', id: 'p' }, search: { mode: 'include' } },
          {
            resource: {
              resourceType: 'OperationOutcome',
              issue: [{ severity: 'warning', code: 'not-supported', details: { text: 'Unknown parameter foo' } }],
            },
            search: { mode: 'outcome' },
          },
        ],
      });
    });
    const api = new ApiClient({ token: () => 'kny_abc', fetch });
    const result = await api.search('Patient', [['name', 'durand']]);
    expect(fetch.mock.calls[0]![0]).toBe('/fhir/Patient?name=durand');
    expect(result.matches.map((m) => m.id)).toEqual(['a']);
    expect(result.included.map((m) => m.id)).toEqual(['p']);
    expect(result).toMatchObject({
      total: 2,
      next: 'http://hub/fhir/Patient?_count=1&_offset=1',
      warnings: ['Unknown parameter foo'],
    });
    await api.page(result.next!);
    expect(fetch.mock.calls[1]![0]).toBe('/fhir/Patient?_count=1&_offset=1');
  });

  it('turns the hub’s errors into messages the screens can show', async () => {
    const outcome = new ApiClient({
      token: () => 't',
      fetch: async () =>
        reply(400, {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'invalid', details: { text: 'birthdate=xx is not a date' } }],
        }),
    });
    await expect(outcome.fhir('Patient?birthdate=xx')).rejects.toMatchObject({
      status: 400,
      message: 'birthdate=xx is not a date',
      code: 'invalid',
    });
    const admin = new ApiClient({
      token: () => 't',
      fetch: async () =>
        reply(404, {
          error: { status: 404, code: 'ENGINE_MESSAGE_NOT_FOUND', message: 'No message x in the message store.' },
        }),
    });
    await expect(admin.admin('messages/x')).rejects.toMatchObject({
      status: 404,
      code: 'ENGINE_MESSAGE_NOT_FOUND',
      message: 'No message x in the message store.',
    });
    const html = new ApiClient({
      token: () => 't',
      fetch: async () => reply(502, '<html>Bad gateway</html>', 'text/html'),
    });
    await expect(html.fhir('Patient')).rejects.toMatchObject({ status: 502 });
  });

  it('ends the session on 401 and reports an unreachable hub as a network error', async () => {
    const onUnauthorized = vi.fn();
    const refused = new ApiClient({
      token: () => 'revoked',
      onUnauthorized,
      fetch: async () => reply(401, { error: { status: 401, code: 'login', message: 'Authentication required' } }),
    });
    await expect(refused.admin('whoami')).rejects.toBeInstanceOf(ApiError);
    expect(onUnauthorized).toHaveBeenCalledOnce();
    const down = new ApiClient({ token: () => 't', fetch: async () => Promise.reject(new TypeError('fetch failed')) });
    const error = await down.fhir('Patient').catch((e: unknown) => e);
    expect(isNetworkError(error)).toBe(true);
  });

  it('sends admin bodies as JSON', async () => {
    const fetch = vi.fn(async () => reply(200, { ok: true }));
    await new ApiClient({ token: () => 't', fetch }).admin('messages/m/replay', {
      method: 'POST',
      body: { destination: 'ris' },
    });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/admin/messages/m/replay');
    expect(init.method).toBe('POST');
    expect(init.body).toBe('{"destination":"ris"}');
    expect(new Headers(init.headers).get('content-type')).toBe('application/json');
  });
});
