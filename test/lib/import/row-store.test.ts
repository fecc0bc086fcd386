// The packed rows an import holds between its check and its writing, and the hash index that
// finds duplicates inside the file: both must give back exactly what went in.
import fc from 'fast-check';
import { ImportRowStore } from '../../../lib/import/row-store';
import { KeyIndex, keyHash } from '../../../lib/import/key-index';
import type { ImportRow } from '../../../lib/import/plan';

const row = (over: Partial<ImportRow> = {}): ImportRow => ({
  line: 2,
  nickname: 'alice',
  email: 'alice@example.com',
  name: 'alice',
  bio: '',
  admin: false,
  moderator: false,
  confirmed: true,
  tags: [],
  password: null,
  ...over,
});

describe('ImportRowStore', () => {
  test('gives back every field as it went in: any text (non-Latin-1, lone surrogates), long texts, flags, big line numbers', () => {
    const text = fc.string({ unit: 'binary', maxLength: 300 });
    const arbitraryRow = fc.record({
      line: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      nickname: text,
      email: text,
      name: text,
      bio: text,
      admin: fc.boolean(),
      moderator: fc.boolean(),
      confirmed: fc.boolean(),
      tags: fc.array(fc.stringMatching(/^[a-zé€😀]{1,8}$/u), { maxLength: 4 }),
      password: fc.option(text, { nil: null }),
    });
    fc.assert(
      fc.property(fc.array(arbitraryRow, { maxLength: 40 }), (rows) => {
        const store = new ImportRowStore();
        rows.forEach((r) => store.push(r));
        expect(store).toHaveLength(rows.length);
        expect(store.withPassword).toBe(rows.filter((r) => r.password !== null).length);
        expect(store.slice(0, rows.length)).toEqual(rows);
        if (rows.length > 2) expect(store.slice(1, rows.length - 1)).toEqual(rows.slice(1, rows.length - 1));
      }),
    );
  });

  test('a name equal to the nickname, an empty bio and no tags come back as such', () => {
    const store = new ImportRowStore();
    store.push(row());
    expect(store.at(0)).toEqual(row());
    expect(store.slice(0, 5)).toEqual([row()]);
    expect(store.slice(1, 5)).toEqual([]);
  });

  test('rows across many blocks, and a row larger than a block', () => {
    const store = new ImportRowStore();
    const big = row({ line: 7, bio: 'b'.repeat(5000), tags: Array.from({ length: 200_000 }, (_, k) => `t${k}`) });
    const rows: ImportRow[] = [];
    // About 1,000 bytes a row: 5,000 rows fill several blocks.
    for (let i = 0; i < 5_000; i++)
      rows.push(row({ line: i + 2, nickname: `user${i}`, email: `user${i}@example.com`, name: `User ${i}`, bio: 'x'.repeat(i % 2000) }));
    rows.splice(1_234, 0, big);
    rows.forEach((r) => store.push(r));
    expect(store.slice(0, store.length)).toEqual(rows);
    expect(store.at(1_234)).toEqual(big);
  });
});

describe('KeyIndex', () => {
  test('finds the row of every key added, and no row for a key never added', () => {
    const keys = Array.from({ length: 200_000 }, (_, k) => `key-${k}@example.com`);
    const index = new KeyIndex((r, key) => keys[r] === key);
    const foundBeforeAdding = keys.filter((k, r) => {
      const found = index.find(k);
      index.add(k, r);
      return found !== -1;
    });
    expect(foundBeforeAdding).toEqual([]);
    expect(keys.filter((k, r) => index.find(k) !== r)).toEqual([]);
    expect(index.find('key-200000@example.com')).toBe(-1);
    expect(index.find('')).toBe(-1);
  });

  test('tells apart two keys that share a hash', () => {
    // Found by searching: two addresses whose 32-bit hashes from seed 0 are equal (each run hashes
    // from a seed of its own, so that a file cannot be made of colliding keys in advance).
    const keys = ['user4356068@example.com', 'user3987643@example.com', 'other@example.com'];
    expect(keyHash(keys[0], 0)).toBe(keyHash(keys[1], 0));
    const index = new KeyIndex((r, key) => keys[r] === key, 0);
    index.add(keys[0], 0);
    expect(index.find(keys[1])).toBe(-1);
    index.add(keys[1], 1);
    index.add(keys[2], 2);
    expect(keys.map((k) => index.find(k))).toEqual([0, 1, 2]);
  });
});
