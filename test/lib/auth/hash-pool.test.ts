import bcrypt from 'bcryptjs';
import { createHashPool } from '../../../lib/auth/hash-pool';

describe('hash pool', () => {
  test('hashes in input order on worker threads, and verifies with bcryptjs', async () => {
    const pool = createHashPool(2);
    try {
      expect(pool.size).toBe(2);
      const passwords = ['first-pass', 'second-pass', 'third-pass'];
      const hashes = await pool.hashMany(passwords, 4);
      expect(hashes).toHaveLength(3);
      for (let i = 0; i < 3; i++) expect(await bcrypt.compare(passwords[i], hashes[i])).toBe(true);
      expect(await bcrypt.compare('first-pass', hashes[1])).toBe(false);
      expect(await pool.hashMany([], 4)).toEqual([]);
      expect(bcrypt.getRounds(await pool.hash('single-pass', 5))).toBe(5);
    } finally {
      await pool.close();
    }
    await expect(pool.hash('after-close', 4)).rejects.toThrow('the hash pool is closed');
  });

  test('verify compares on a worker, as bcryptjs does', async () => {
    const pool = createHashPool(1);
    try {
      const hash = await bcrypt.hash('right-password', 4);
      expect(await pool.verify('right-password', hash)).toBe(true);
      expect(await pool.verify('wrong-password', hash)).toBe(false);
      expect(await pool.verify('right-password', 'not-a-hash')).toBe(false);
    } finally {
      await pool.close();
    }
  });

  test('hashing runs off the main thread: timers fire while a slow batch is being hashed', async () => {
    const pool = createHashPool(2);
    try {
      let finished = false;
      const job = pool.hashMany(['password-a', 'password-b', 'password-c', 'password-d'], 11).then(() => (finished = true));
      // bcryptjs on the main thread would block the event loop for the whole job (~0.5 s at cost 11).
      const ticks: boolean[] = [];
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 5));
        ticks.push(finished);
      }
      expect(ticks).toEqual([false, false, false, false, false]);
      await job;
      expect(finished).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
