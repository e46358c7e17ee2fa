// Maps one bench message in a loop for a CPU profile: node --cpu-prof --cpu-prof-dir DIR --import tsx bench/mapping/profile.ts [0|1|2] [seconds]
// (0 = ADT^A01, 1 = ORU 20 OBX, 2 = ORU 200 OBX). Read the profile with `npx tsx bench/mapping/profile-summary.ts DIR/*.cpuprofile`.
import { parseHl7Message } from '../../adapters/hl7v2/index.js';
import { createMapperRegistry } from '../../mappings/index.js';
import { benchContext, workloads } from './messages.js';

const which = Number(process.argv[2] ?? 1);
const seconds = Number(process.argv[3] ?? 5);
const mapper = createMapperRegistry().get('hl7v2/default')!;
const bytes = workloads[which]!.bytes;
for (let i = 0; i < 50; i++) mapper.map(parseHl7Message(bytes), benchContext);
const start = process.cpuUsage();
let n = 0;
for (;;) {
  mapper.map(parseHl7Message(bytes), benchContext);
  n++;
  if (n % 10 === 0) {
    const u = process.cpuUsage(start);
    if ((u.user + u.system) / 1e6 > seconds) break;
  }
}
const u = process.cpuUsage(start);
process.stdout.write(
  `${workloads[which]!.name}: ${n} maps in ${((u.user + u.system) / 1e6).toFixed(2)} s CPU = ${Math.round(n / ((u.user + u.system) / 1e6))} msg/s (parse included)\n`,
);
