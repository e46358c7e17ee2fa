import type { MappingContext } from '../mapper.js';

/** The mapping context used for fixtures: stable ids so that expected outputs are reproducible. */
export function fixtureContext(file: string): MappingContext {
  return { channelId: 'fixtures', messageId: `fixture-${file}`, rawSha256: '0'.repeat(64), receivedAt: '2024-03-05T12:00:00Z' };
}
