import { openTestPglite } from '../test/databases.js';
import { describeMessageStore } from './message-store.contract.js';

describeMessageStore('PGlite', async () => {
  const sql = await openTestPglite();
  return { sql, close: () => sql.close() };
});
