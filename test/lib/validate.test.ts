import { checkEmail, emailKey, splitAddressList } from '../../lib/validate';
import { UsageError } from '../../lib/errors';

// Issue 12, bug 9: `z\u200bw@example.com` was accepted next to `zw@example.com`.
test.each([
  ['zero-width space', 'z\u200bw@example.com', 'U+200B'],
  ['zero-width joiner', 'z\u200dw@example.com', 'U+200D'],
  ['left-to-right mark', '\u200ezw@example.com', 'U+200E'],
  ['right-to-left override', 'zw\u202e@example.com', 'U+202E'],
  ['bidi isolate', 'z\u2066w@example.com', 'U+2066'],
  ['byte order mark', '\ufeffzw@example.com', 'U+FEFF'],
  ['soft hyphen', 'z\u00adw@example.com', 'U+00AD'],
  ['variation selector', 'z\ufe0fw@example.com', 'U+FE0F'],
  ['Hangul filler', 'z\u3164w@example.com', 'U+3164'],
  ['no-break space', 'z\u00a0w@example.com', 'U+00A0'],
])('%s is refused, naming the character', (_what, email, code) => {
  expect(() => checkEmail(email)).toThrow(UsageError);
  expect(() => checkEmail(email)).toThrow(code);
});

test('addresses are NFKC-normalized: fullwidth letters are the ASCII ones', () => {
  expect(checkEmail('ｚｗ@example.com')).toBe('zw@example.com');
  expect(emailKey('ＺＷ@Example.com')).toBe(emailKey('zw@example.com'));
});

test('ordinary and international addresses are unchanged', () => {
  expect(checkEmail('Alice@Example.COM')).toBe('Alice@Example.COM');
  expect(checkEmail('josé@example.com')).toBe('josé@example.com');
  expect(() => checkEmail('a b@example.com')).toThrow('invalid email');
});

describe("splitAddressList (create-user --email=, the console's Register users)", () => {
  test('commas, semicolons and line breaks separate; blanks and repeats (by the email key) drop', () => {
    expect(splitAddressList(' ann@example.com;bob@example.com , \r\ncat@example.com;;\nANN@example.com\n')).toEqual([
      'ann@example.com',
      'bob@example.com',
      'cat@example.com',
    ]);
  });

  test('spaces do not separate: an address with one inside stays one (and fails its own check)', () => {
    expect(splitAddressList('ann @example.com')).toEqual(['ann @example.com']);
  });
});
