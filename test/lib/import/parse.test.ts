import fc from 'fast-check';
import { CsvReader, JsonlReader, readRecords, type RawRecord } from '../../../lib/import/parse';
import { UsageError } from '../../../lib/errors';

const HEADER = 'nickname,email,name,bio,admin,moderator,confirmed,tags,password\n';

function csv(text: string): RawRecord[] {
  const reader = new CsvReader();
  return [...reader.push(text), ...reader.end()];
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const p of parts) yield p;
}

describe('CSV reader', () => {
  test('quoted fields, doubled quotes, commas and line breaks inside, CRLF, BOM; line numbers of each record', () => {
    const records = csv('\uFEFFNickname,EMAIL,bio\r\nalice,a@example.com,"Hi, ""you""\r\nline two"\r\n\r\nbob,b@example.com,\r\n');
    expect(records).toEqual([
      { line: 2, values: { nickname: 'alice', email: 'a@example.com', bio: 'Hi, "you"\r\nline two' } },
      { line: 5, values: { nickname: 'bob', email: 'b@example.com', bio: '' } },
    ]);
  });

  test('gives the same records whatever the chunk boundaries (one character at a time)', () => {
    const text = `${HEADER}alice,a@example.com,"A ""q"", b",,true,,,"x y",\ncarol,c@example.com,C,,,,,,pw-123456789`;
    const whole = csv(text);
    const reader = new CsvReader();
    const bits: RawRecord[] = [];
    for (const ch of text) bits.push(...reader.push(ch));
    bits.push(...reader.end());
    expect(bits).toEqual(whole);
    expect(whole).toHaveLength(2);
    expect(whole[0].values.name).toBe('A "q", b');
    expect(whole[1]).toMatchObject({ line: 3, values: { password: 'pw-123456789' } });
  });

  test('any fields written as RFC 4180 CSV read back the same, however the text is cut into chunks', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\n', '\r\n', 'é', '😀', 'x'), maxLength: 12 });
    const quote = (f: string) => (/[",\r\n]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(field, field), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(40), { maxLength: 10 }),
        fc.boolean(),
        (rows, cuts, crlf) => {
          const eol = crlf ? '\r\n' : '\n';
          const text = `email,bio${eol}${rows.map(([a, b]) => `${quote(a)},${quote(b)}`).join(eol)}${eol}`;
          const reader = new CsvReader();
          const got: RawRecord[] = [];
          let at = 0;
          for (const cut of cuts) {
            got.push(...reader.push(text.slice(at, at + cut)));
            at += cut;
          }
          got.push(...reader.push(text.slice(at)), ...reader.end());
          expect(got.map((r) => [r.values.email, r.values.bio])).toEqual(rows);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a record with the wrong number of fields is a row error, not the end of the file', () => {
    expect(csv('email,name\na@example.com\nb@example.com,B\n')).toEqual([
      { line: 2, values: {}, error: 'expected 2 fields as in the header, found 1' },
      { line: 3, values: { email: 'b@example.com', name: 'B' } },
    ]);
  });

  test.each([
    ['', 'the file is empty: expected a header line naming the columns (nickname, email, name, bio, admin, moderator, confirmed, tags, password)'],
    ['nickname,name\n', 'the header has no "email" column: expected nickname, email, name, bio, admin, moderator, confirmed, tags, password'],
    ['email,role,team\n', 'unknown columns "role", "team" in the header: expected nickname, email, name, bio, admin, moderator, confirmed, tags, password'],
    ['email,Email\n', 'column "email" appears twice in the header'],
    ['email,bio\na@example.com,"never closed\n', 'line 2: a quoted field is never closed'],
    ['email,bio\na@example.com,"closed"then text\n', 'line 2: text after a closing quote (a quote inside a field must be doubled: "")'],
    ['email,bio\na@example.com,say "hi"\n', 'line 2: a quote in an unquoted field (quote the whole field and double the quote: "")'],
  ])('a malformed file is a usage error: %j', (text, message) => {
    expect(() => csv(text)).toThrow(new UsageError(message));
  });
});

describe('JSON Lines reader and format sniffing', () => {
  test('one object per line, keys in any case, blank lines ignored, a last line without a line break', async () => {
    const records = await collect(readRecords(chunks('{"Email":"a@example.com","tags":["x"]}\n\n{"email":', '"b@example.com","admin":true}'), 'jsonl'));
    expect(records).toEqual([
      { line: 1, values: { email: 'a@example.com', tags: ['x'] } },
      { line: 3, values: { email: 'b@example.com', admin: true } },
    ]);
  });

  test('a line that is not a JSON object, or has unknown keys, is a row error with its line', () => {
    const r = new JsonlReader();
    const out = [...r.push('{"email":"a@example.com"}\nnot json\n[1]\n{"email":"b@example.com","role":"x"}\n'), ...r.end()];
    expect(out.map((x) => [x.line, x.error])).toEqual([
      [1, undefined],
      [2, expect.stringMatching(/^not valid JSON: /)],
      [3, 'expected a JSON object'],
      [4, 'unknown key "role": expected nickname, email, name, bio, admin, moderator, confirmed, tags, password'],
    ]);
  });

  test('stdin with no format given: a leading { means JSON Lines, anything else CSV', async () => {
    expect(await collect(readRecords(chunks('  {"email":"a@example.com"}\n'), null))).toEqual([{ line: 1, values: { email: 'a@example.com' } }]);
    expect(await collect(readRecords(chunks('email\na@example.com\n'), null))).toEqual([{ line: 2, values: { email: 'a@example.com' } }]);
    expect(await collect(readRecords(chunks(Buffer.from('email\n') as unknown as string, 'b@example.com'), 'csv'))).toEqual([
      { line: 2, values: { email: 'b@example.com' } },
    ]);
  });
});

describe('bytes that are not UTF-8', () => {
  async function* bytes(...parts: Buffer[]): AsyncGenerator<Buffer> {
    for (const p of parts) yield p;
  }
  const latin1 = (text: string) => Buffer.from(text, 'latin1');
  const utf8 = (text: string) => Buffer.from(text, 'utf8');
  const NOT_UTF8 = (line: number) =>
    new UsageError(`line ${line}: not valid UTF-8 (was the file saved as Latin-1 or Windows-1252?): save it as UTF-8 and import it again`);

  test('a Latin-1 file is exit 2 naming the line, not read with U+FFFD in place of its accents', async () => {
    await expect(collect(readRecords(bytes(latin1('email,name\na@example.com,Ann\nb@example.com,René\n')), 'csv'))).rejects.toThrow(NOT_UTF8(3));
    await expect(collect(readRecords(bytes(latin1('{"email":"a@example.com"}\n\n{"email":"b@example.com","name":"René"}\n')), 'jsonl'))).rejects.toThrow(
      NOT_UTF8(3),
    );
  });

  test('the line is right across chunks, a character split between two of them, a quoted line break, and a cut-off end', async () => {
    const e = utf8('é');
    const head = utf8('email,name\na@example.com,"two\nlines"\nb@example.com,Ren');
    // é split across the chunk boundary is fine; the bad byte is two lines further on.
    const tail = Buffer.concat([e.subarray(1), utf8('\nc@example.com,x\nd@example.com,'), latin1('é'), utf8('\n')]);
    await expect(collect(readRecords(bytes(Buffer.concat([head, e.subarray(0, 1)]), tail), 'csv'))).rejects.toThrow(NOT_UTF8(6));
    await expect(collect(readRecords(bytes(utf8('email,name\na@example.com,Ren'), e.subarray(0, 1)), 'csv'))).rejects.toThrow(NOT_UTF8(2));
    // Well-formed UTF-8 split anywhere still reads as before.
    const good = utf8('email,name\nb@example.com,René\n');
    for (let cut = 1; cut < good.length; cut++)
      expect(await collect(readRecords(bytes(good.subarray(0, cut), good.subarray(cut)), 'csv'))).toEqual([
        { line: 2, values: { email: 'b@example.com', name: 'René' } },
      ]);
  });
});
