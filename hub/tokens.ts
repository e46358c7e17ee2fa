// API tokens: opaque bearer tokens, stored only as their sha256. The first start creates an admin token
// and prints it once; KENEY_ADMIN_TOKEN registers a known token for automation.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Migration, SqlClient } from '../store/sql/sql-client.js';

export const Role = { Admin: 'admin', Write: 'write', Read: 'read' } as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLES: readonly Role[] = Object.values(Role);

export interface TokenPrincipal {
  id: string;
  name: string;
  roles: Role[];
}

export const tokenMigrations: Migration[] = [
  {
    id: 'hub-0001-api-tokens',
    sql: `
      CREATE TABLE api_tokens (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        token_sha256 text NOT NULL UNIQUE,
        roles text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      );
    `,
  },
];

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function generateToken(): string {
  return `kny_${randomBytes(32).toString('base64url')}`;
}

export class TokenStore {
  private readonly cache = new Map<string, { principal: TokenPrincipal | undefined; at: number }>();

  constructor(
    private readonly sql: SqlClient,
    private readonly cacheMs = 10_000,
  ) {}

  async create(
    name: string,
    roles: Role[],
    token = generateToken(),
  ): Promise<{ token: string; principal: TokenPrincipal }> {
    for (const role of roles)
      if (!ROLES.includes(role)) throw new Error(`Unknown role "${role}": use one of ${ROLES.join(', ')}.`);
    const id = randomUUID();
    await this.sql.query('INSERT INTO api_tokens (id, name, token_sha256, roles) VALUES ($1, $2, $3, $4)', [
      id,
      name,
      hashToken(token),
      roles,
    ]);
    return { token, principal: { id, name, roles } };
  }

  /** Registers a given token (KENEY_ADMIN_TOKEN) if it is not known yet. */
  async ensure(name: string, token: string, roles: Role[]): Promise<void> {
    await this.sql.query(
      `INSERT INTO api_tokens (id, name, token_sha256, roles) VALUES ($1, $2, $3, $4)
       ON CONFLICT (token_sha256) DO UPDATE SET revoked_at = NULL, roles = EXCLUDED.roles`,
      [randomUUID(), name, hashToken(token), roles],
    );
  }

  async count(): Promise<number> {
    const rows = await this.sql.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM api_tokens WHERE revoked_at IS NULL',
    );
    return rows.rows[0]!.n;
  }

  async list(): Promise<(TokenPrincipal & { createdAt: string; revoked: boolean })[]> {
    const rows = await this.sql.query<{
      id: string;
      name: string;
      roles: Role[];
      created_at: Date;
      revoked_at: Date | null;
    }>('SELECT id, name, roles, created_at, revoked_at FROM api_tokens ORDER BY created_at');
    return rows.rows.map((r) => ({
      id: r.id,
      name: r.name,
      roles: r.roles,
      createdAt: new Date(r.created_at).toISOString(),
      revoked: r.revoked_at !== null,
    }));
  }

  async revoke(id: string): Promise<boolean> {
    const rows = await this.sql.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [
      id,
    ]);
    this.cache.clear();
    return rows.rowCount > 0;
  }

  /** The principal of a presented token, or undefined. Constant-time on the hash comparison. */
  async verify(token: string): Promise<TokenPrincipal | undefined> {
    const hash = hashToken(token);
    const cached = this.cache.get(hash);
    if (cached && Date.now() - cached.at < this.cacheMs) return cached.principal;
    const rows = await this.sql.query<{ id: string; name: string; roles: Role[]; token_sha256: string }>(
      'SELECT id, name, roles, token_sha256 FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL',
      [hash],
    );
    const row = rows.rows[0];
    const principal =
      row && timingSafeEqual(Buffer.from(row.token_sha256), Buffer.from(hash))
        ? { id: row.id, name: row.name, roles: row.roles }
        : undefined;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, at: Date.now() });
    return principal;
  }
}
