// Settings that must never change once data exists: the change log's partition count decides which
// partition a patient's changes go to, so changing it would reorder a patient's history.
import type { Migration, SqlClient } from '../store/sql/sql-client.js';
import { ConfigError, type HubConfig } from './config.js';

export const settingsMigrations: Migration[] = [
  { id: 'hub-0003-settings', sql: 'CREATE TABLE hub_settings (key text PRIMARY KEY, value text NOT NULL)' },
];

export async function checkLogSettings(sql: SqlClient, config: HubConfig): Promise<void> {
  const wanted = {
    'log.kind': config.profile === 'cluster' ? 'kafka' : 'sql',
    'log.partitions': String(config.logPartitions),
  };
  for (const [key, value] of Object.entries(wanted)) {
    await sql.query('INSERT INTO hub_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
    const stored = (await sql.query<{ value: string }>('SELECT value FROM hub_settings WHERE key = $1', [key])).rows[0]!
      .value;
    if (stored !== value) {
      throw new ConfigError(
        `This database was created with ${key}=${stored}, but the configuration says ${value}. ` +
          (key === 'log.partitions'
            ? `Set KENEY_LOG_PARTITIONS=${stored}: the partition count cannot change once changes are logged.`
            : 'A database belongs to one profile; use a new database (and KENEY_DATA_DIR) for the other profile.'),
      );
    }
  }
}
