// newToken's promise, "shown once; only its hash is stored", checked over every verb that hands a
// token out: users, password resets, email confirmations and invites.
import { sql } from 'kysely';
import { libContext, TEST_SETTINGS, useOpenTestDatabase } from '../../helpers/backend';
import type { DbHandle } from '../../../lib/db/db';
import { createUser, planNewUser } from '../../../lib/user/new';
import { createPasswordReset, resetPasswordWithToken } from '../../../lib/user/reset_password';
import { confirmEmail, createConfirmation } from '../../../lib/tokens/confirmation';
import { createInvite, redeemInvite, revokeInvite } from '../../../lib/invites/invites';
import { hashToken } from '../../../lib/tokens/secrets';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const NOW = new Date('2026-03-10T12:00:00Z');
const at = (ms: number) => libContext(h, { now: () => new Date(NOW.getTime() + ms) });
const ctx = () => at(0);

describe('no raw token is stored anywhere', () => {
  test('every column of every table, read as text, holds none of the tokens handed out', async () => {
    const tokens: string[] = [];
    const bob = await createUser(ctx(), planNewUser({ nickname: 'bob', email: 'bob@example.com', confirmed: false }), TEST_SETTINGS);
    tokens.push(bob.passwordReset!.token, bob.confirmation!.token);
    tokens.push((await createPasswordReset(ctx(), 'bob', TEST_SETTINGS)).token);
    tokens.push((await createConfirmation(ctx(), 'bob', TEST_SETTINGS)).confirmation!.token);
    const inv = await createInvite(ctx(), { maxUse: 3, email: 'jane@example.com', name: 'Jane' }, TEST_SETTINGS);
    tokens.push(inv.token);
    const reg = await redeemInvite(
      ctx(),
      inv.token,
      { nickname: 'jane', email: 'jane@example.com', password: 'janes-password', confirmed: false },
      TEST_SETTINGS,
    );
    tokens.push(reg.confirmation!.token);
    const other = await createInvite(ctx(), {}, TEST_SETTINGS);
    tokens.push(other.token);
    await revokeInvite(ctx(), other.token);
    await resetPasswordWithToken(ctx(), bob.passwordReset!.token, 'bobs-password', TEST_SETTINGS);
    await confirmEmail(ctx(), reg.confirmation!.token);
    expect(new Set(tokens).size).toBe(7);

    const columns = await sql<{ table_name: string; column_name: string }>`
      SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`.execute(h.db);
    expect(columns.rows.map((c) => `${c.table_name}.${c.column_name}`)).toEqual(
      expect.arrayContaining(['invites.token_hash', 'tokens.token_hash', 'audit_log.details']),
    );
    let cells = 0;
    for (const { table_name, column_name } of columns.rows) {
      const values = await sql<{ v: string | null }>`SELECT ${sql.ref(column_name)}::text AS v FROM ${sql.table(table_name)}`.execute(h.db);
      for (const { v } of values.rows) {
        if (v === null) continue;
        cells += 1;
        for (const token of tokens) {
          if (v.includes(token)) throw new Error(`${table_name}.${column_name} holds a raw token`);
          // Not even a long piece of one: only the 6-character invite prefix may appear.
          if (v.includes(token.slice(0, 12))) throw new Error(`${table_name}.${column_name} holds part of a token`);
        }
      }
    }
    expect(cells).toBeGreaterThan(50);
    const hashes = (await h.db.selectFrom('tokens').select('token_hash').execute()).map((r) => r.token_hash);
    expect(hashes).toEqual(expect.arrayContaining(tokens.filter((t) => t !== inv.token && t !== other.token).map(hashToken)));
  });
});
