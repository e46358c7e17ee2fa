// The only door to the hub: its FHIR API (/fhir), its admin API (/admin), DICOMweb (/dicomweb). Every call
// carries the bearer token; errors become ApiError with the hub's own message (OperationOutcome text or the
// admin error), so screens can say what went wrong and what to do.
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A network failure (the hub is down or unreachable): status 0. */
export function isNetworkError(error: unknown): boolean {
  return error instanceof ApiError && error.status === 0;
}

export interface ApiClientOptions {
  token: () => string | undefined;
  /** Called on 401 (token unknown or revoked): the app goes back to the login screen. */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
  baseUrl?: string;
}

export interface SearchResult<T extends Resource = Resource> {
  matches: T[];
  included: Resource[];
  total?: number;
  next?: string;
  warnings: string[];
}

async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  let message = `${response.status} ${response.statusText}`.trim();
  let code: string | undefined;
  try {
    const body = JSON.parse(text) as Partial<OperationOutcome> & {
      error?: { code?: string; message?: string };
      message?: string;
    };
    if (body.resourceType === 'OperationOutcome') {
      const issue = body.issue?.[0];
      message = issue?.details?.text ?? issue?.diagnostics ?? message;
      code = issue?.code;
    } else if (body.error?.message) {
      message = body.error.message;
      code = body.error.code;
    } else if (typeof body.message === 'string') message = body.message;
  } catch {
    if (text && text.length < 300 && !text.trimStart().startsWith('<')) message = text;
  }
  return new ApiError(response.status, message, code);
}

export class ApiClient {
  private readonly fetchImpl: typeof fetch;
  private readonly baseUrl: string;

  constructor(private readonly options: ApiClientOptions) {
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.baseUrl = options.baseUrl ?? '';
  }

  async request(path: string, init: RequestInit & { accept?: string } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = this.options.token();
    if (token) headers.set('authorization', `Bearer ${token}`);
    if (init.accept) headers.set('accept', init.accept);
    let response: Response;
    try {
      response = await this.fetchImpl(this.baseUrl + path, { ...init, headers });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ApiError(0, `The hub cannot be reached (${(error as Error).message}).`, 'network');
    }
    if (response.status === 401) {
      const error = await errorFrom(response);
      this.options.onUnauthorized?.();
      throw error;
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  async json<T>(path: string, init: RequestInit & { accept?: string } = {}): Promise<T> {
    const response = await this.request(path, { accept: 'application/json', ...init });
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /** GET /fhir/{path}. */
  fhir<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.json<T>(`/fhir/${path}`, { accept: 'application/fhir+json', ...(signal ? { signal } : {}) });
  }

  /** A FHIR search: matches (mode match), included resources, total, the next page link. */
  async search<T extends Resource>(
    type: string,
    params: [string, string][] | URLSearchParams,
    signal?: AbortSignal,
  ): Promise<SearchResult<T>> {
    const query = new URLSearchParams(params).toString();
    const bundle = await this.fhir<Bundle>(`${type}${query ? `?${query}` : ''}`, signal);
    return searchResult<T>(bundle);
  }

  /** Follows a `next` link of a search (an absolute URL from the hub: only its path and query are used). */
  async page<T extends Resource>(nextUrl: string, signal?: AbortSignal): Promise<SearchResult<T>> {
    const url = new URL(nextUrl, 'http://hub.invalid');
    const path = url.pathname.replace(/^.*?\/fhir\//, '');
    return searchResult<T>(await this.fhir<Bundle>(`${path}${url.search}`, signal));
  }

  admin<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
    return this.json<T>(`/admin/${path}`, {
      method: init.method ?? 'GET',
      ...(init.body !== undefined
        ? { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } }
        : {}),
      ...(init.signal ? { signal: init.signal } : {}),
    });
  }

  async blob(path: string, accept = '*/*', signal?: AbortSignal): Promise<Blob> {
    const response = await this.request(path, { accept, ...(signal ? { signal } : {}) });
    return response.blob();
  }

  async text(path: string, accept = 'text/html', signal?: AbortSignal): Promise<string> {
    const response = await this.request(path, { accept, ...(signal ? { signal } : {}) });
    return response.text();
  }
}

export function searchResult<T extends Resource>(bundle: Bundle): SearchResult<T> {
  const matches: T[] = [];
  const included: Resource[] = [];
  const warnings: string[] = [];
  for (const entry of bundle.entry ?? []) {
    if (!entry.resource) continue;
    if (entry.search?.mode === 'outcome' && entry.resource.resourceType === 'OperationOutcome') {
      for (const issue of entry.resource.issue ?? []) if (issue.details?.text) warnings.push(issue.details.text);
    } else if (entry.search?.mode === 'include') included.push(entry.resource);
    else matches.push(entry.resource as T);
  }
  const next = bundle.link?.find((l) => l.relation === 'next')?.url;
  return {
    matches,
    included,
    ...(bundle.total !== undefined ? { total: bundle.total } : {}),
    ...(next ? { next } : {}),
    warnings,
  };
}
