import { describe } from 'vitest';
import { openTestPostgres } from '../test/databases.js';
import { hasService } from '../test/services.js';
import { describeMessageStore } from './message-store.contract.js';

describe.skipIf(!hasService('postgres'))('on PostgreSQL', () => {
  describeMessageStore('PostgreSQL', async () => {
    const db = await openTestPostgres();
    return { sql: db.client, close: db.drop };
  });
});
