// The messages of the mapping bench (also mapped by mappings/testing/output-digest.ts, so that a faster interpreter
// is checked to produce the same bytes on exactly what the bench measures).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

const MSH =
  'MSH|^~\\&|LAB|CHU^1.2.250.1.999.1^ISO|KENEY|HUB|20240305100000+0100||ORU^R01^ORU_R01|C1|P|2.5|||AL|NE|FRA|UNICODE UTF-8';
const PID =
  'PID|1||IPP100042^^^CHU&1.2.250.1.999.1.1&ISO^PI~280017512345610^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||TESTMARTIN^MARIE^^^^^L||19800115|F';
const PV1 = 'PV1|1|I|4001^101^1|||||||||||||||||NDA7001^^^CHU&1.2.250.1.999.1.2&ISO^AN';
const OBR =
  'OBR|1|CMD1^SIH^1.2.250.1.999.1.5^ISO|RES1^LAB^1.2.250.1.999.1.6^ISO|24326-1^Ionogramme^LN|||20240305073000+0100|||||||||||||||20240305110000+0100|||F';
const codes = [
  '2823-3^Potassium^LN',
  '2951-2^Sodium^LN',
  '2160-0^Creatinine^LN',
  '718-7^Hemoglobin^LN',
  'K^Potassium^L',
  'GLY^Glucose^L',
];

/** A synthetic ORU^R01 with `count` numeric OBX (local and LOINC codes, units to convert to UCUM, reference ranges). */
export function oru(count: number): Buffer {
  const obx = Array.from(
    { length: count },
    (_, i) =>
      `OBX|${i + 1}|NM|${codes[i % codes.length]}|${i}|${(4 + (i % 10) / 10).toFixed(1)}|mmol/l^mmol/l^L|3.5-5.1|N|||F|||20240305073000+0100`,
  );
  return Buffer.from([MSH, PID, PV1, OBR, ...obx].join('\r'));
}

export const workloads: { name: string; bytes: Buffer }[] = [
  {
    name: 'ADT^A01 (PAM-FR, fixtures/hl7v2-fr/01)',
    bytes: readFileSync(join(ROOT, 'fixtures/hl7v2-fr/01-a01-admission.hl7')),
  },
  { name: 'ORU^R01, 20 OBX', bytes: oru(20) },
  { name: 'ORU^R01, 200 OBX', bytes: oru(200) },
];

export const benchContext = {
  channelId: 'bench',
  messageId: 'bench',
  rawSha256: '0',
  receivedAt: '2024-03-05T09:00:00Z',
};
