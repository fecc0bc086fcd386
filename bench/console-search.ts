// The admin console's search at the benchmark's size (issue 15): the time to render one page of
// /admin/users?q=<term> through the real app (session check, listUsers, the template), signed in
// as a seeded admin, against the page's query alone as one hand-written SQL statement.
import type { Client } from 'pg';
import type { LightMyRequestResponse } from 'fastify';
import { loadConfig } from '../lib/config';
import { openDatabase } from '../lib/db/db';
import { hashPassword } from '../lib/auth/passwords';
import { ServerDatabase } from '../lib/server/database';
import { buildServer } from '../lib/server/app';
import { median } from './measure';

/** Terms that match one user, none, and very many (the seed's nicknames are `user<n>`). */
export const SEARCH_TERMS = ['user123456', 'no-such-user', 'user1'] as const;

export interface SearchMeasure {
  /** The slowest term's median page time. */
  readonly seconds: number;
  /** That term's median time of the page's query alone. */
  readonly baselineSeconds: number;
  readonly note: string;
}

function cookiesOf(res: LightMyRequestResponse, jar: Map<string, string>): void {
  const header = res.headers['set-cookie'];
  for (const line of header === undefined ? [] : Array.isArray(header) ? header : [header]) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
}

const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

export async function measureConsoleSearch(url: string, db: Client, runs: number): Promise<SearchMeasure> {
  const admin = await db.query<{ id: number; nickname: string }>(
    `SELECT id, nickname FROM users WHERE admin AND local AND active AND deleted_at IS NULL ORDER BY id LIMIT 1`,
  );
  if (admin.rows.length === 0) throw new Error('the seed has no active local admin');
  const { id, nickname } = admin.rows[0];
  const password = 'bench-console-password';
  await db.query(`UPDATE users SET password_hash = $1 WHERE id = $2`, [await hashPassword(password, 4), id]);
  const config = loadConfig({ CTL_ENV_FILE: '', DATABASE_URL: url, APP_URL: 'http://bench.test', CTL_BCRYPT_COST: '4' });
  const database = new ServerDatabase(() => openDatabase({ databaseUrl: url, dataDir: '', lockWaitMs: 0, schema: 'none' }), null);
  const app = buildServer({ database, config });
  try {
    await app.ready();
    const jar = new Map<string, string>();
    const form = await app.inject({ method: 'GET', url: '/admin/login' });
    cookiesOf(form, jar);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)![1];
    const signIn = await app.inject({
      method: 'POST',
      url: '/admin/login',
      headers: { cookie: cookieHeader(jar), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: csrf, login: nickname, password }).toString(),
    });
    if (signIn.statusCode !== 303) throw new Error(`console sign-in failed: ${signIn.statusCode}`);
    cookiesOf(signIn, jar);

    let worst: { term: string; page: number; query: number } | null = null;
    const notes: string[] = [];
    for (const term of SEARCH_TERMS) {
      const page = async () => {
        const t = process.hrtime.bigint();
        const res = await app.inject({ method: 'GET', url: `/admin/users?q=${encodeURIComponent(term)}`, headers: { cookie: cookieHeader(jar) } });
        if (res.statusCode !== 200) throw new Error(`search for ${term}: ${res.statusCode}`);
        return Number(process.hrtime.bigint() - t) / 1e9;
      };
      const query = async () => {
        const pattern = `%${term}%`;
        const t = process.hrtime.bigint();
        await db.query(
          `SELECT id, nickname, email, name, bio, local, admin, moderator, locked, confirmed, active, deleted_at, tags, mfa_enabled, created_at, updated_at, last_login_at
           FROM users WHERE id > 0 AND local AND deleted_at IS NULL AND (nickname ILIKE $1 OR email ILIKE $1 OR name ILIKE $1) ORDER BY id LIMIT 51`,
          [pattern],
        );
        return Number(process.hrtime.bigint() - t) / 1e9;
      };
      // One untimed run of each first: the earlier cases pushed the indexes out of the cache.
      await page();
      await query();
      const pages: number[] = [];
      const queries: number[] = [];
      for (let i = 0; i < runs; i++) {
        pages.push(await page());
        queries.push(await query());
      }
      const m = { term, page: median(pages), query: median(queries) };
      notes.push(`${term}: ${(m.page * 1000).toFixed(0)} ms`);
      if (!worst || m.page > worst.page) worst = m;
    }
    return { seconds: worst!.page, baselineSeconds: worst!.query, note: `median of ${runs} per term; ${notes.join(', ')}; baseline the page's SELECT` };
  } finally {
    await app.close();
    await database.close();
    await db.query(`UPDATE users SET password_hash = NULL WHERE id = $1`, [id]);
    await db.query(`DELETE FROM tokens WHERE user_id = $1`, [id]);
  }
}
