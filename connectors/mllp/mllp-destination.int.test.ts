// The same destination behaviour on PostgreSQL (server profile) and on PostgreSQL + Kafka (cluster profile).
import { describe } from 'vitest';
import { HUB_PROFILES } from '../../test/hub-harness.js';
import { describeMllpDestination } from './mllp-destination.contract.js';

for (const { profile, available } of HUB_PROFILES.filter((p) => p.profile !== 'embedded')) {
  describe.skipIf(!available())(profile, () => describeMllpDestination(profile));
}
