import { describe, expect, it } from 'vitest';
import { characterSet } from './charset.js';
import { readPart10 } from './part10.js';
import { Tag } from './tags.js';
import { corpusFile } from './test-support.js';

const esc = (text: string) => Buffer.from(text.replace(/<ESC>/g, '\x1b'), 'latin1');

describe('character sets in the corpus', () => {
  const cases: Array<[string, string]> = [
    ['pydicom/charset/chrFren.dcm', 'Buc^Jérôme'],
    ['pydicom/charset/chrGerm.dcm', 'Äneas^Rüdiger'],
    ['pydicom/charset/chrRuss.dcm', 'Люкceмбypг'],
    ['pydicom/charset/chrArab.dcm', 'قباني^لنزار'],
    ['pydicom/charset/chrX1.dcm', 'Wang^XiaoDong=王^小東='],
    ['pydicom/charset/chrJapMulti.dcm', 'やまだ^たろう'],
  ];
  for (const [file, name] of cases) {
    it(`${file} → ${name}`, () => {
      expect(readPart10(corpusFile(file)).dataSet.string(Tag.PatientName)).toBe(name);
    });
  }

  it('applies the character set of a sequence item, not the data set’s (chrSQEncoding)', () => {
    const ds = readPart10(corpusFile('pydicom/charset/chrSQEncoding.dcm')).dataSet;
    expect(ds.string(0x00321032)).toBe('Doctor^Who^^MD');
    const item = ds.sequence(0x00321064)[0]!;
    expect(item.string(Tag.PatientName)).toBe('ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう');
  });
});

describe('ISO 2022 code extensions (PS3.5 Annex H, I, K examples)', () => {
  it('Japanese: default + ISO 2022 IR 87 (H.3.1)', () => {
    const bytes = esc('Yamada^Tarou=<ESC>$B;3ED<ESC>(B^<ESC>$BB@O:<ESC>(B=<ESC>$B$d$^$@<ESC>(B^<ESC>$B$?$m$&<ESC>(B');
    expect(characterSet(['', 'ISO 2022 IR 87']).decode(bytes, { personName: true })).toBe(
      'Yamada^Tarou=山田^太郎=やまだ^たろう',
    );
  });

  it('Korean: default + ISO 2022 IR 149 (Annex I)', () => {
    const bytes = Buffer.concat([
      esc('Hong^Gildong=<ESC>$)C'),
      Buffer.from([0xfb, 0xf3]),
      esc('^<ESC>$)C'),
      Buffer.from([0xd1, 0xce, 0xd4, 0xd7]),
      esc('=<ESC>$)C'),
      Buffer.from([0xc8, 0xab]),
      esc('^<ESC>$)C'),
      Buffer.from([0xb1, 0xe6, 0xb5, 0xbf]),
    ]);
    expect(characterSet(['', 'ISO 2022 IR 149']).decode(bytes, { personName: true })).toBe(
      'Hong^Gildong=洪^吉洞=홍^길동',
    );
  });

  it('returns to the first character set after a value delimiter', () => {
    const bytes = Buffer.concat([esc('<ESC>-L'), Buffer.from([0xbb]), esc('\\'), Buffer.from([0xe9])]);
    expect(characterSet(['ISO 2022 IR 100', 'ISO 2022 IR 144']).decode(bytes)).toBe('Л\\é');
  });

  it('falls back to Latin-1 for an unknown defined term instead of failing', () => {
    expect(characterSet(['ISO_IR 999']).decode(Buffer.from([0x48, 0xe9]))).toBe('Hé');
  });
});
