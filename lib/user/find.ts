// lib/user owns the accounts: lib/user/<verb>.ts is the domain function of `ctl user <verb>`
// (activate.ts also holds deactivate, tag.ts untag, confirm_all.ts unconfirm_all, purge.ts rm --purge
// and purge_deleted); this file resolves `<user>`, present.ts is a user's JSON shape, last-admin.ts
// the last-admin guard every verb that demotes or removes an admin goes through.
import type { UserRow, Db } from '../db/schema';
import { NotFoundError } from '../errors';
import { clipInput } from '../text';
import { emailKeyOf, storedEmailKey } from './email-key';

/**
 * A `<user>`: as typed (a nickname or an email address), or one account picked by its id (the
 * console's pages and forms, which name the account they show by id). An id matches that account
 * only, never another by nickname or email: the nickname of a remote or deleted account can be a
 * local account's email address, and a verb that skips remote or deleted accounts would then act
 * on that other account.
 */
export type UserRef = string | { readonly id: number; readonly nickname: string };

/** How messages name a `<user>`: as typed (clipped when very long), or the picked account's nickname. */
export function refText(ref: UserRef): string {
  return clipInput(typeof ref === 'string' ? ref : ref.nickname);
}

export interface FindOptions {
  /** Only local accounts count (Pleroma: rm, sign_out, set, ...). */
  readonly localOnly?: boolean;
  /** Soft-deleted accounts count too (restore, rm --purge, show). */
  readonly includeDeleted?: boolean;
  /** Lock the row until the transaction ends. */
  readonly forUpdate?: boolean;
  /**
   * false: the account is looked for among those the options admit, by nickname and then by email
   * (someone typing their own login or address: the app's sign-in and link requests). Default,
   * for an operator's `<user>`: the account a nickname names is the one meant even when the options
   * rule it out (then none is found), and an email matches only when no account has that nickname.
   * A remote account's nickname (`bob@mastodon.social`) can be a local account's email: `ctl user rm
   * bob@mastodon.social` deleted that local account, where `show` showed the remote one.
   */
  readonly nicknameWins?: boolean;
}

/**
 * Resolves `<user>`: a nickname, case-insensitively, or an email address by the email rule's key
 * (lib/user/email-key.ts), so a look-alike of an address finds the address's one owner. A nickname match wins
 * over an email match, so `alice` never resolves to someone whose email happens to be `alice`.
 */
export async function findUser(db: Db, ref: UserRef, opts: FindOptions = {}): Promise<UserRow | undefined> {
  return findUserQuery(db, ref, opts)?.executeTakeFirst();
}

/**
 * The one statement findUser runs, for a caller to add columns to (a plan's counts beside the
 * user, in the same round trip); null when `ref` can match no one.
 */
export function findUserQuery(db: Db, ref: UserRef, opts: FindOptions = {}) {
  let query;
  if (typeof ref !== 'string') {
    query = db.selectFrom('users').selectAll().where('id', '=', ref.id).limit(1);
  } else {
    if (ref.includes('\0')) return null;
    const key = ref.toLowerCase();
    query = db
      .selectFrom('users')
      .selectAll()
      .where((eb) => {
        const byEmail = eb(storedEmailKey, '=', emailKeyOf(ref));
        const filtered = opts.localOnly || !opts.includeDeleted;
        return eb.or([
          eb(eb.fn('lower', ['nickname']), '=', key),
          opts.nicknameWins === false || !filtered
            ? byEmail
            : eb.and([
                byEmail,
                eb.not(
                  eb.exists(
                    eb
                      .selectFrom('users as named')
                      .select('named.id')
                      .where((n) => n(n.fn('lower', ['named.nickname']), '=', key)),
                  ),
                ),
              ]),
        ]);
      })
      .orderBy((eb) =>
        eb
          .case()
          .when(eb.fn('lower', ['nickname']), '=', key)
          .then(0)
          .else(1)
          .end(),
      )
      .limit(1);
  }
  if (opts.localOnly) query = query.where('local', '=', true);
  if (!opts.includeDeleted) query = query.where('deleted_at', 'is', null);
  if (opts.forUpdate) query = query.forUpdate();
  return query;
}

/** Pleroma's wording for a local-only verb: `No local user alice` (exit 3). */
export async function requireLocalUser(db: Db, ref: UserRef, opts: Omit<FindOptions, 'localOnly'> = {}): Promise<UserRow> {
  const user = await findUser(db, ref, { ...opts, localOnly: true });
  if (!user) throw new NotFoundError(`No local user ${refText(ref)}`);
  return user;
}

/** Pleroma's wording for verbs that take any user: `No user alice` (exit 3). */
export async function requireUser(db: Db, ref: UserRef, opts: FindOptions = {}, message = `No user ${refText(ref)}`): Promise<UserRow> {
  const user = await findUser(db, ref, opts);
  if (!user) throw new NotFoundError(message);
  return user;
}
