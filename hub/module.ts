// The seam through which a capability plugs into the hub: its tables, its routes, its listeners.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AuditTrail } from '../store/audit/audit-trail.js';
import type { BlobStore } from '../store/blob/blob-store.js';
import type { CanonicalStore } from '../store/canonical-store.js';
import type { ChangeLog } from '../store/log/change-log.js';
import type { Projector } from '../store/projection/projector.js';
import type { Migration, SqlClient } from '../store/sql/sql-client.js';
import type { HubConfig } from './config.js';
import type { HubMetrics } from './metrics.js';
import type { TokenPrincipal, TokenStore } from './tokens.js';

export interface HubContext {
  config: HubConfig;
  sql: SqlClient;
  log: ChangeLog;
  projector: Projector;
  store: CanonicalStore;
  blobs: BlobStore;
  audit: AuditTrail;
  tokens: TokenStore;
  logger: Logger;
  metrics: HubMetrics;
  /** The authenticated caller of a request under /fhir or /admin (throws 401 when there is none). */
  principalOf(request: FastifyRequest): TokenPrincipal;
  /** Throws 403 unless the principal holds one of the roles. */
  requireRole(principal: TokenPrincipal, ...roles: string[]): void;
}

export interface HubModule {
  name: string;
  migrations?: Migration[];
  /** Registers routes and plugins (called before the server listens). */
  register?(app: FastifyInstance, hub: HubContext): Promise<void>;
  /** Starts listeners and background work (after the store is running). */
  start?(hub: HubContext): Promise<void>;
  /** Stops accepting new work, finishes in-flight work. */
  stop?(): Promise<void>;
  /** Readiness: false (with a reason) while the module cannot serve. */
  ready?(): Promise<{ ok: boolean; reason?: string }>;
}
