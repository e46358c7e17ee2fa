// The projection: a deterministic fold of the change log. Current resources, full history, and seven
// search-index tables, plus the bookkeeping that makes the fold exactly-once (applied change sets and
// each partition's next offset, written in the same transaction as the state they account for).
import type { Migration } from '../sql/sql-client.js';

/** Every table of the projection, in the order `keney store rebuild` truncates and digests them. */
export const PROJECTION_TABLES = [
  'resources',
  'resource_history',
  'sp_token',
  'sp_string',
  'sp_date',
  'sp_reference',
  'sp_quantity',
  'sp_number',
  'sp_uri',
  'applied_change_sets',
  'projection_offsets',
] as const;

export const projectionMigrations: Migration[] = [
  {
    id: 'store-0002-projection',
    sql: `
      CREATE EXTENSION IF NOT EXISTS pg_trgm;

      CREATE TABLE resources (
        resource_type text NOT NULL,
        id text NOT NULL,
        version_id integer NOT NULL,
        last_updated timestamptz NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        content text NOT NULL,
        PRIMARY KEY (resource_type, id)
      );
      CREATE INDEX resources_last_updated ON resources (resource_type, last_updated);

      CREATE TABLE resource_history (
        resource_type text NOT NULL,
        id text NOT NULL,
        version_id integer NOT NULL,
        last_updated timestamptz NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        method text NOT NULL,
        content text NOT NULL,
        change_set_id uuid NOT NULL,
        PRIMARY KEY (resource_type, id, version_id)
      );
      CREATE INDEX resource_history_type_time ON resource_history (resource_type, last_updated);
      CREATE INDEX resource_history_time ON resource_history (last_updated);
      CREATE INDEX resource_history_change_set ON resource_history (change_set_id);

      CREATE TABLE sp_token (
        resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
        system text, code text, display text
      );
      CREATE INDEX sp_token_code ON sp_token (resource_type, param, code, system);
      CREATE INDEX sp_token_resource ON sp_token (resource_type, id);

      CREATE TABLE sp_string (
        resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
        value text NOT NULL, exact text NOT NULL
      );
      CREATE INDEX sp_string_value ON sp_string (resource_type, param, value text_pattern_ops);
      CREATE INDEX sp_string_trgm ON sp_string USING gin (value gin_trgm_ops);
      CREATE INDEX sp_string_resource ON sp_string (resource_type, id);

      CREATE TABLE sp_date (
        resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
        low timestamptz NOT NULL, high timestamptz NOT NULL
      );
      CREATE INDEX sp_date_range ON sp_date (resource_type, param, low, high);
      CREATE INDEX sp_date_resource ON sp_date (resource_type, id);

      CREATE TABLE sp_reference (
        resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
        target_type text, target_id text, target_url text, ident_system text, ident_value text
      );
      CREATE INDEX sp_reference_target ON sp_reference (target_id, target_type, param, resource_type);
      CREATE INDEX sp_reference_url ON sp_reference (target_url) WHERE target_url IS NOT NULL;
      CREATE INDEX sp_reference_ident ON sp_reference (ident_value) WHERE ident_value IS NOT NULL;
      CREATE INDEX sp_reference_resource ON sp_reference (resource_type, id);

      CREATE TABLE sp_quantity (
        resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
        low double precision NOT NULL, high double precision NOT NULL, system text, code text, unit text
      );
      CREATE INDEX sp_quantity_value ON sp_quantity (resource_type, param, low);
      CREATE INDEX sp_quantity_resource ON sp_quantity (resource_type, id);

      CREATE TABLE sp_number (
        resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
        low double precision NOT NULL, high double precision NOT NULL
      );
      CREATE INDEX sp_number_value ON sp_number (resource_type, param, low);
      CREATE INDEX sp_number_resource ON sp_number (resource_type, id);

      CREATE TABLE sp_uri (
        resource_type text NOT NULL, id text NOT NULL, param text NOT NULL, value text NOT NULL
      );
      CREATE INDEX sp_uri_value ON sp_uri (resource_type, param, value);
      CREATE INDEX sp_uri_resource ON sp_uri (resource_type, id);

      CREATE TABLE applied_change_sets (
        change_set_id uuid PRIMARY KEY,
        partition integer NOT NULL,
        "offset" bigint NOT NULL,
        status text NOT NULL,
        http_status integer NOT NULL,
        outcome text NOT NULL
      );

      CREATE TABLE projection_offsets (
        partition integer PRIMARY KEY,
        next_offset bigint NOT NULL
      );
    `,
  },
];
