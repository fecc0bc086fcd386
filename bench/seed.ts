import type { Client } from 'pg';

/**
 * The bench's data set, made with set-based SQL (generate_series), never row by row:
 * - `users` accounts, ids 1..users: 90% local (`alice` is 1, `heavy` is 2, the rest `user<id>`),
 *   10% remote, half of those (at most 50,000) on big.example, the rest over 500 instances;
 *   every 1000th local user an admin or a moderator, every other local user unconfirmed,
 *   every 97th deactivated, every 10th tagged;
 * - follows: a chain through the local users, 10,000 local followers of heavy, and each
 *   big.example user following one local user and followed by another;
 * - `activities` activities of heavy.
 */
export interface Sizes {
  readonly users: number;
  readonly activities: number;
}

export interface Shape {
  readonly local: number;
  readonly remote: number;
  readonly big: number;
}

export function shapeOf(sizes: Sizes): Shape {
  const remote = Math.floor(sizes.users / 10);
  return { local: sizes.users - remote, remote, big: Math.min(50000, Math.floor(remote / 2)) };
}

export const HEAVY_ID = 2;
export const BIG_INSTANCE = 'big.example';

export async function seedUsers(db: Client, sizes: Sizes): Promise<void> {
  const { local, big } = shapeOf(sizes);
  await db.query(
    `INSERT INTO users (id, nickname, email, name, local, admin, moderator, confirmed, active, tags, created_at, updated_at, last_login_at)
     OVERRIDING SYSTEM VALUE
     SELECT g,
       CASE WHEN g = 1 THEN 'alice' WHEN g = 2 THEN 'heavy' WHEN g <= $2 THEN 'user' || g
            WHEN g <= $2 + $3 THEN 'r' || g || '@big.example'
            ELSE 'r' || g || '@inst' || (g % 500) || '.example' END,
       CASE WHEN g = 1 THEN 'alice@example.com' WHEN g = 2 THEN 'heavy@example.com' WHEN g <= $2 THEN 'user' || g || '@example.com' END,
       'User ' || g,
       g <= $2,
       g <= $2 AND g % 1000 = 3,
       g <= $2 AND g % 1000 = 4,
       CASE WHEN g <= $2 THEN g % 2 = 1 ELSE true END,
       g % 97 <> 0,
       CASE WHEN g % 20 = 0 THEN ARRAY['bench', 'staff'] WHEN g % 10 = 0 THEN ARRAY['bench'] ELSE '{}'::text[] END,
       now() - (g % 1000) * interval '1 hour', now(),
       CASE WHEN g % 3 = 0 THEN now() - (g % 90) * interval '1 day' END
     FROM generate_series(1, $1::int) g`,
    [sizes.users, local, big],
  );
  await db.query(`SELECT setval(pg_get_serial_sequence('users', 'id'), $1::bigint)`, [sizes.users]);
}

/** Follows of the local chain and of heavy; big.example's follows come from seedBigFollows. */
export async function seedFollows(db: Client, sizes: Sizes): Promise<void> {
  const { local } = shapeOf(sizes);
  await db.query(
    `INSERT INTO follows (follower_id, following_id)
     SELECT g, g + 1 FROM generate_series(3, $1::int - 1) g
     ON CONFLICT DO NOTHING`,
    [local],
  );
  await seedHeavyFollows(db, sizes);
  await seedBigFollows(db, sizes);
}

export async function seedHeavyFollows(db: Client, sizes: Sizes): Promise<void> {
  const { local } = shapeOf(sizes);
  await db.query(
    `INSERT INTO follows (follower_id, following_id)
     SELECT g, ${HEAVY_ID} FROM generate_series(3, least($1::int, 10002)) g
     UNION ALL SELECT ${HEAVY_ID}, 3
     ON CONFLICT DO NOTHING`,
    [local],
  );
}

/** Each big.example user follows one local user and is followed by another. */
export async function seedBigFollows(db: Client, sizes: Sizes): Promise<void> {
  const { local, big } = shapeOf(sizes);
  await db.query(
    `INSERT INTO follows (follower_id, following_id)
     SELECT b, (b % ($1::int - 2)) + 3 FROM generate_series($1::int + 1, $1::int + $2::int) b
     UNION ALL
     SELECT ((b * 7) % ($1::int - 2)) + 3, b FROM generate_series($1::int + 1, $1::int + $2::int) b
     ON CONFLICT DO NOTHING`,
    [local, big],
  );
}

export async function seedActivities(db: Client, sizes: Sizes): Promise<void> {
  await db.query(
    `INSERT INTO activities (actor_id, type, object, data)
     SELECT ${HEAVY_ID}, CASE WHEN g % 5 = 0 THEN 'Like' ELSE 'Create' END,
            'https://bench.example/objects/' || g, jsonb_build_object('n', g)
     FROM generate_series(1, $1::int) g`,
    [sizes.activities],
  );
}

/** Puts heavy back as seeded (after rm --purge), with its activities and followers. */
export async function restoreHeavy(db: Client, sizes: Sizes): Promise<void> {
  await db.query(
    `INSERT INTO users (id, nickname, email, name, local, confirmed, active, created_at, updated_at)
     OVERRIDING SYSTEM VALUE
     VALUES (${HEAVY_ID}, 'heavy', 'heavy@example.com', 'User 2', true, false, true, now(), now())
     ON CONFLICT DO NOTHING`,
  );
  await db.query(`UPDATE users SET deleted_at = NULL, active = true WHERE id = ${HEAVY_ID}`);
  await db.query(`DELETE FROM activities WHERE actor_id = ${HEAVY_ID}`);
  await seedActivities(db, sizes);
  await seedHeavyFollows(db, sizes);
}

/** Puts big.example back: its users active as seeded, their follows re-made, their sessions gone. */
export async function restoreBig(db: Client, sizes: Sizes): Promise<void> {
  await db.query(`UPDATE users SET active = (id % 97 <> 0) WHERE instance = '${BIG_INSTANCE}' AND active <> (id % 97 <> 0)`);
  await seedBigFollows(db, sizes);
}

/**
 * Vacuums and analyzes, then checkpoints, so that every measured run (ctl's and its baseline's)
 * starts just after a checkpoint: the first change to a page after one writes the whole page to
 * the WAL, and a checkpoint that fell inside one run and not the other made a single run of
 * confirm_all read 1.17x one time and 1.58x the next.
 */
export async function vacuum(db: Client, tables: readonly string[] = ['users', 'follows', 'activities', 'tokens', 'audit_log']): Promise<void> {
  await db.query(`VACUUM ANALYZE ${tables.join(', ')}`);
  await db.query('CHECKPOINT');
}
