// The table format measures cells in terminal columns (tasks/runner/display-width.ts): CJK and
// emoji take two, combining marks and zero-width characters none, so columns line up.
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { displayWidth, padToWidth } from '../../../tasks/runner/display-width';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

describe('displayWidth', () => {
  test.each([
    ['alice', 5],
    ['', 0],
    ['ユーザー', 8],
    ['한국어', 6],
    ['中文 name', 9],
    ['ｚ', 2], // fullwidth
    ['ｱ', 1], // halfwidth katakana
    ['Zoe\u0301', 3], // e + combining acute
    ['a\u200bb', 2], // zero-width space
    ['\u200d\u200e', 0],
    ['😀', 2],
    ['👩\u200d💻', 2], // one ZWJ sequence
    ['🇯🇵', 2], // a flag: two regional indicators
    ['1\ufe0f\u20e3', 2], // keycap
    ['☺', 1], // text presentation
    ['☺\ufe0f', 2], // emoji presentation asked for
    ['\ufffd', 1], // what sanitizeForTerminal leaves for a control character
    ['👍🏽 ok', 5], // a skin-tone modifier joins its emoji
    ['Zoe\u0301 😀', 6], // accents measured the same beside an emoji
  ])('%j is %i columns', (text, width) => {
    expect(displayWidth(text)).toBe(width);
  });
});

describe('padToWidth', () => {
  test('pads to the width in columns, and cuts between graphemes with …', () => {
    expect(padToWidth('ユーザー', 10)).toBe('ユーザー  ');
    expect(padToWidth('ユーザー', 5)).toBe('ユー…');
    // ザ would straddle the edge: it goes, and a space fills its column.
    expect(padToWidth('ユーザー', 6)).toBe('ユー… ');
    expect(padToWidth('Zoe\u0301 Lee', 4)).toBe('Zoe\u0301…');
    expect(padToWidth('👩\u200d💻👩\u200d💻', 3)).toBe('👩\u200d💻…');
    expect(padToWidth('alice', 3)).toBe('al…');
    expect(padToWidth('bob', 5)).toBe('bob  ');
  });
});

test('ctl user list: wide, combining, zero-width and emoji names keep the columns aligned', async () => {
  const names = ['ユーザー', 'Plain', 'Zoe\u0301 Lee', 'dev 👩\u200d💻', '🇯🇵 a\u200bb', '한국어 이름'];
  for (const [i, name] of names.entries()) expect((await run(tdb, ['user', 'new', `u${i}`, `u${i}@example.com`, '--name', name, '-y'])).code).toBe(0);
  const r = await run(tdb, ['user', 'list']);
  expect(r.code).toBe(0);
  const [header, ...rows] = r.stdout.trimEnd().split('\n');
  expect(rows).toHaveLength(names.length);
  const statusColumn = displayWidth(header.slice(0, header.indexOf('STATUS')));
  for (const row of rows) {
    expect(names.some((n) => row.includes(n))).toBe(true);
    expect([row, displayWidth(row.slice(0, row.indexOf('active')))]).toEqual([row, statusColumn]);
  }
  // The name column is as wide as the widest name, 한국어 이름 (11 columns; ユーザー 8), and its two spaces.
  expect(displayWidth(header.slice(header.indexOf(' NAME') + 1, header.indexOf('ROLES')))).toBe(11 + 2);
});
