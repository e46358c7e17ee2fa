// A small, valid PDF written by hand (PDF 1.4, one page, Helvetica in WinAnsi so French accents print), for the
// demo's echocardiography report: no PDF library needed for a few lines of text.
import type { DemoPatient } from './dataset.js';

function pdfText(value: string): Buffer {
  // WinAnsi covers French letters; the PDF string delimiters are escaped.
  return Buffer.from(value.replace(/[\\()]/g, (c) => `\\${c}`).replace(/[’]/g, "'"), 'latin1');
}

export function pdfDocument(title: string, lines: string[]): Buffer {
  const content = Buffer.concat([
    Buffer.from('BT\n/F1 16 Tf\n56 780 Td\n('),
    pdfText(title),
    Buffer.from(') Tj\n/F1 11 Tf\n0 -30 Td\n14 TL\n'),
    ...lines.flatMap((line) => [Buffer.from('('), pdfText(line), Buffer.from(") '\n")]),
    Buffer.from('ET\n'),
  ]);
  const objects: Buffer[] = [
    Buffer.from('<< /Type /Catalog /Pages 2 0 R >>'),
    Buffer.from('<< /Type /Pages /Kids [3 0 R] /Count 1 >>'),
    Buffer.from(
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>',
    ),
    Buffer.concat([Buffer.from(`<< /Length ${content.length} >>\nstream\n`), content, Buffer.from('\nendstream')]),
    Buffer.from('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>'),
  ];
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  const offsets: number[] = [];
  let length = parts[0]!.length;
  objects.forEach((body, i) => {
    offsets.push(length);
    const object = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), body, Buffer.from('\nendobj\n')]);
    parts.push(object);
    length += object.length;
  });
  const xref = [
    `xref\n0 ${objects.length + 1}\n`,
    '0000000000 65535 f \n',
    ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`),
  ].join('');
  parts.push(
    Buffer.from(`${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`),
  );
  return Buffer.concat(parts);
}

export function demoPdf(patient: DemoPatient, at: Date): Buffer {
  const date = at.toISOString().slice(0, 10).split('-').reverse().join('/');
  return pdfDocument("Compte rendu d'échocardiographie transthoracique", [
    `Patiente : ${patient.family} ${patient.given} (née ${patient.birthFamily ?? patient.family}), IPP ${patient.ipp}`,
    `Date de l'examen : ${date} - Dr Sophie MARCHAND, cardiologie`,
    '',
    'Indication : dyspnée d’effort, suspicion de décompensation cardiaque.',
    '',
    'Ventricule gauche modérément dilaté (DTDVG 61 mm), hypokinésie globale.',
    'Fraction d’éjection du ventricule gauche estimée à 35 % (Simpson biplan).',
    'Insuffisance mitrale fonctionnelle grade 2. Pas d’épanchement péricardique.',
    "Pressions de remplissage élevées (E/e' = 16). PAPs estimée à 45 mmHg.",
    '',
    'Conclusion : cardiopathie dilatée à fraction d’éjection altérée,',
    'pressions de remplissage élevées. Optimisation du traitement diurétique.',
    '',
    'Document de démonstration (données synthétiques) - Keney Hub.',
  ]);
}
