import { randomBytes } from 'node:crypto';

/**
 * Which earlier row has a key (a lower-cased nickname, an email's key), for finding duplicates
 * inside an import file: an open-addressing hash table of 32-bit hashes and row numbers in typed
 * arrays, outside V8's heap. A Map of the keys themselves held a million strings and entries on
 * the heap (~140 MB for nicknames and emails at a million rows), which set how far V8 let the
 * heap grow for the rest of the import. A hash is only a candidate: `sameKey` says whether that
 * row's key really is the one looked up (two keys may share a hash).
 */
export class KeyIndex {
  private hashes = new Int32Array(1 << 12);
  /** Row number + 1; 0 is an empty slot. */
  private rows = new Int32Array(1 << 12);
  private size = 0;

  /** `seed`: the hashes' starting value, this run's own unless a test fixes it. */
  constructor(
    private readonly sameKey: (row: number, key: string) => boolean,
    private readonly seed: number = SEED,
  ) {}

  /** The row holding `key`, or -1. */
  find(key: string): number {
    const h = keyHash(key, this.seed);
    const mask = this.rows.length - 1;
    for (let slot = h & mask; this.rows[slot] !== 0; slot = (slot + 1) & mask) {
      if (this.hashes[slot] === h && this.sameKey(this.rows[slot] - 1, key)) return this.rows[slot] - 1;
    }
    return -1;
  }

  /** Records that `row` holds `key` (not already in the index: find it first). */
  add(key: string, row: number): void {
    if ((this.size + 1) * 2 > this.rows.length) this.grow();
    this.put(keyHash(key, this.seed), row + 1);
    this.size += 1;
  }

  private put(h: number, rowPlusOne: number): void {
    const mask = this.rows.length - 1;
    let slot = h & mask;
    while (this.rows[slot] !== 0) slot = (slot + 1) & mask;
    this.hashes[slot] = h;
    this.rows[slot] = rowPlusOne;
  }

  private grow(): void {
    const { hashes, rows } = this;
    this.hashes = new Int32Array(rows.length * 2);
    this.rows = new Int32Array(rows.length * 2);
    for (let slot = 0; slot < rows.length; slot++) if (rows[slot] !== 0) this.put(hashes[slot], rows[slot]);
  }
}

/**
 * Each run's own starting value: an import file may come from anywhere, and keys made to share
 * hashes with a known start would make every look-up walk one long run of slots.
 */
const SEED = randomBytes(4).readInt32LE(0);

/** FNV-1a over the UTF-16 code units from SEED, with a final mix so the low bits (the slot) depend on every character. */
export function keyHash(key: string, seed: number = SEED): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}
