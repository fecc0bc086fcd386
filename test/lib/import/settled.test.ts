// The rows an import's check settles (skipped, failed), packed until they are reported: they must
// come back exactly as they went in, in the file's order across the two stores that hold them.
import fc from 'fast-check';
import { SettledRows, SettledRowStore, type ImportSettled } from '../../../lib/import/settled';

const text = fc.string({ unit: 'binary', maxLength: 200 });
const skipped = fc.record({
  status: fc.constant('skipped' as const),
  line: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  nickname: text,
  email: text,
  id: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
});
const failed = fc.record({
  status: fc.constant('failed' as const),
  line: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  nickname: fc.option(text, { nil: null }),
  email: fc.option(text, { nil: null }),
  kind: fc.constantFrom('invalid' as const, 'duplicate' as const, 'taken' as const),
  error: text,
});

function add(store: SettledRowStore, row: ImportSettled): void {
  if (row.status === 'skipped') store.skip({ line: row.line, nickname: row.nickname, email: row.email, id: row.id });
  else store.fail({ line: row.line, nickname: row.nickname, email: row.email, kind: row.kind, error: row.error });
}

test('gives back every field as it went in: any text (non-Latin-1, lone surrogates), no nickname or email, big ids and lines', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(skipped, failed), { maxLength: 40 }), (rows) => {
      const store = new SettledRowStore();
      rows.forEach((r) => add(store, r));
      expect(Array.from({ length: store.length }, (_, i) => store.at(i))).toEqual(rows);
      expect(Array.from({ length: store.length }, (_, i) => [store.lineAt(i), store.failedAt(i)])).toEqual(rows.map((r) => [r.line, r.status === 'failed']));
      expect([store.skipped, store.failed]).toEqual([rows.filter((r) => r.status === 'skipped').length, rows.filter((r) => r.status === 'failed').length]);
      expect(store.onlyTaken).toBe(rows.every((r) => r.status === 'skipped' || r.kind === 'taken'));
    }),
  );
});

test("reads the two stores merged in the file's order; a cursor of the failed rows steps over the skipped ones", () => {
  fc.assert(
    fc.property(
      fc
        .uniqueArray(fc.integer({ min: 1, max: 10000 }), { maxLength: 60 })
        .chain((lines) =>
          fc.tuple(fc.constant([...lines].sort((a, b) => a - b)), fc.array(fc.boolean(), { minLength: lines.length, maxLength: lines.length })),
        ),
      ([lines, toLookups]) => {
        // Problems found while reading are all failed; what the lookups found is skipped or taken.
        const reading = new SettledRowStore();
        const lookups = new SettledRowStore();
        const all: ImportSettled[] = lines.map((line, k) => {
          const row: ImportSettled =
            toLookups[k] && line % 3 !== 0
              ? { status: 'skipped', line, nickname: `n${line}`, email: `n${line}@example.com`, id: line }
              : { status: 'failed', line, nickname: null, email: `n${line}@`, kind: toLookups[k] ? 'taken' : 'invalid', error: `e${line}` };
          add(toLookups[k] ? lookups : reading, row);
          return row;
        });
        const settled = new SettledRows(reading, lookups);
        expect(settled.length).toBe(all.length);
        expect([...settled]).toEqual(all);
        const failedOnly: ImportSettled[] = [];
        const cursor = settled.cursor(true);
        for (let r = cursor.next(); r !== null; r = cursor.next()) failedOnly.push(r);
        expect(failedOnly).toEqual(all.filter((r) => r.status === 'failed'));
        expect(cursor.nextLine).toBe(Infinity);
      },
    ),
  );
});

test('rows far apart in two stores, a million lines in: nextLine tells which comes first without unpacking it', () => {
  const reading = new SettledRowStore();
  const lookups = new SettledRowStore();
  reading.fail({ line: 1_000_001, nickname: 'z', email: null, kind: 'invalid', error: 'no email' });
  lookups.skip({ line: 7, nickname: 'Ann', email: 'ann@example.com', id: 42 });
  const cursor = new SettledRows(reading, lookups).cursor();
  expect(cursor.nextLine).toBe(7);
  expect(cursor.next()).toEqual({ status: 'skipped', line: 7, nickname: 'Ann', email: 'ann@example.com', id: 42 });
  expect(cursor.nextLine).toBe(1_000_001);
  expect(cursor.next()).toMatchObject({ status: 'failed', line: 1_000_001, nickname: 'z', email: null });
  expect(cursor.next()).toBeNull();
});

test('rows that share a line (a JSON array on one line) come as the check listed them: skipped, then read problems, then taken', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom('reading' as const, 'skipped' as const, 'taken' as const)), { maxLength: 40 }),
      (drawn) => {
        const reading = new SettledRowStore();
        const lookups = new SettledRowStore();
        const rows = [...drawn]
          .sort((x, y) => x[0] - y[0])
          .map(([line, where], k): [typeof where, ImportSettled] => [
            where,
            where === 'skipped'
              ? { status: 'skipped', line, nickname: `n${k}`, email: `n${k}@example.com`, id: k + 1 }
              : { status: 'failed', line, nickname: `n${k}`, email: null, kind: where === 'taken' ? 'taken' : 'invalid', error: `e${k}` },
          ]);
        for (const [where, row] of rows) add(where === 'reading' ? reading : lookups, row);
        const expected = [...new Set(rows.map(([, r]) => r.line))].flatMap((line) =>
          (['skipped', 'reading', 'taken'] as const).flatMap((where) => rows.filter(([w, r]) => w === where && r.line === line).map(([, r]) => r)),
        );
        const settled = new SettledRows(reading, lookups);
        expect([...settled]).toEqual(expected);
        const cursor = settled.cursor(true);
        const failedOnly: ImportSettled[] = [];
        for (let r = cursor.next(); r !== null; r = cursor.next()) failedOnly.push(r);
        expect(failedOnly).toEqual(expected.filter((r) => r.status === 'failed'));
      },
    ),
  );
});
