// Authentication with the hub's own API tokens (docs/adr: the UI keeps the token in sessionStorage — this tab
// only, gone when it closes — and sends it as `Authorization: Bearer`; no cookie, so no CSRF surface).
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiClient, ApiError } from '../api/client.js';
import type { Principal } from '../api/engine-types.js';

const STORAGE_KEY = 'keney.token';

export type LoginFailure = 'unknown-token' | 'unreachable' | 'other';

interface Session {
  api: ApiClient;
  principal: Principal | undefined;
  /** The session ended because the hub refused the token (revoked, expired). */
  ended: boolean;
  /** Restoring a token kept in this tab (after a reload). */
  restoring: boolean;
  login(token: string): Promise<{ ok: true } | { ok: false; reason: LoginFailure; message: string }>;
  logout(): void;
  isAdmin: boolean;
}

const SessionContext = createContext<Session | undefined>(undefined);

function storedToken(): string | undefined {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const token = useRef<string | undefined>(storedToken());
  const [principal, setPrincipal] = useState<Principal | undefined>();
  const [ended, setEnded] = useState(false);
  const [restoring, setRestoring] = useState(token.current !== undefined);

  const clear = useCallback((why: 'logout' | 'refused') => {
    token.current = undefined;
    try {
      window.sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // nothing kept
    }
    setPrincipal(undefined);
    setEnded(why === 'refused');
  }, []);

  const api = useMemo(
    () => new ApiClient({ token: () => token.current, onUnauthorized: () => clear('refused') }),
    [clear],
  );

  const login = useCallback<Session['login']>(async (candidate) => {
    const value = candidate.trim();
    const probe = new ApiClient({ token: () => value });
    try {
      const who = await probe.admin<Principal>('whoami');
      token.current = value;
      try {
        window.sessionStorage.setItem(STORAGE_KEY, value);
      } catch {
        // kept in memory only
      }
      setEnded(false);
      setPrincipal(who);
      return { ok: true };
    } catch (error) {
      const status = error instanceof ApiError ? error.status : -1;
      return {
        ok: false,
        reason: status === 401 ? 'unknown-token' : status === 0 ? 'unreachable' : 'other',
        message: (error as Error).message,
      };
    }
  }, []);

  // A token kept in this tab: check it once (it may have been revoked meanwhile).
  const restored = useRef(false);
  if (!restored.current && token.current) {
    restored.current = true;
    void login(token.current).then((result) => {
      if (!result.ok && result.reason === 'unknown-token') clear('refused');
      setRestoring(false);
    });
  }

  const value = useMemo<Session>(
    () => ({
      api,
      principal,
      ended,
      restoring,
      login,
      logout: () => clear('logout'),
      isAdmin: principal?.roles.includes('admin') ?? false,
    }),
    [api, principal, ended, restoring, login, clear],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
