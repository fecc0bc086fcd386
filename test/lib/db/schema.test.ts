import { sql } from 'kysely';
import { useOpenTestDatabase } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import type { Database } from '../../../lib/db/schema';

/** Every column of the Database interface; the type makes a missing or extra key a compile error. */
const COLUMNS: { [T in keyof Database]: Record<keyof Database[T], true> } = {
  users: {
    id: true,
    nickname: true,
    email: true,
    name: true,
    bio: true,
    password_hash: true,
    local: true,
    instance: true,
    admin: true,
    moderator: true,
    locked: true,
    confirmed: true,
    active: true,
    tags: true,
    deleted_at: true,
    mfa_enabled: true,
    mfa_totp_secret: true,
    mfa_backup_codes: true,
    last_login_at: true,
    created_at: true,
    updated_at: true,
    terms_version: true,
    terms_accepted_at: true,
    settings: true,
    plugins: true,
    balance: true,
    token_balance: true,
    avatar: true,
    mfa_last_step: true,
    provider: true,
  },
  invites: {
    id: true,
    token_hash: true,
    token_prefix: true,
    invite_type: true,
    max_use: true,
    uses: true,
    used: true,
    expires_at: true,
    email: true,
    name: true,
    revoked_at: true,
    created_at: true,
  },
  tokens: { id: true, kind: true, token_hash: true, user_id: true, expires_at: true, used_at: true, revoked_at: true, created_at: true, family: true },
  activities: { id: true, actor_id: true, type: true, object: true, data: true, created_at: true },
  follows: { id: true, follower_id: true, following_id: true, state: true, created_at: true },
  audit_log: { id: true, at: true, actor: true, verb: true, target_user_id: true, target_nickname: true, reason: true, details: true },
  avatars: { user_id: true, content_type: true, data: true, updated_at: true },
  login_limits: { id: true, key: true, at: true, expires_at: true },
  two_factor_challenges: {
    id: true,
    token_hash: true,
    user_id: true,
    password_fingerprint: true,
    failures: true,
    expires_at: true,
    used_at: true,
    created_at: true,
  },
  mfa_reenrolments: { user_id: true, totp_secret: true, backup_codes: true, created_at: true },
  console_sessions: { token_id: true, csrf_token: true, last_seen_at: true, created_at: true },
  external_identities: { id: true, provider: true, subject: true, user_id: true, created_at: true, last_login_at: true },
  saml_assertions: { assertion_id: true, expires_at: true },
};

// One open handle for the file: opening the database once per test was most of its time on PGlite.
let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

test('the migrated schema has exactly the columns of the Database interface', async () => {
  const { db } = h;
  const { rows } = await sql<{ table_name: string; column_name: string }>`
    SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'`.execute(db);
  const live: Record<string, string[]> = {};
  for (const r of rows) (live[r.table_name] ??= []).push(r.column_name);
  for (const t of Object.keys(live)) live[t].sort();
  const declared = Object.fromEntries(Object.entries(COLUMNS).map(([t, cols]) => [t, Object.keys(cols).sort()]));
  expect(live).toEqual(declared);
});

test('the remote instance is derived from the nickname, lower-cased', async () => {
  const { db } = h;
  await db
    .insertInto('users')
    .values([
      { nickname: 'a@Host.Example', name: 'a', local: false },
      { nickname: 'local', name: 'l' },
    ])
    .execute();
  const rows = await db.selectFrom('users').select(['nickname', 'instance']).orderBy('id').execute();
  expect(rows).toEqual([
    { nickname: 'a@Host.Example', instance: 'host.example' },
    { nickname: 'local', instance: null },
  ]);
  await sql`TRUNCATE users CASCADE`.execute(db);
});
