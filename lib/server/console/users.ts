// Manage users: search with `list`'s filters and keyset paging, bulk deactivate / activate /
// delete behind a confirmation page, and the deleted users with Recover.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppState } from '../state';
import { html, type Html } from '../html';
import { UsageError, CtlError } from '../../errors';
import { listUsers, type UserFilter } from '../../user/list';
import type { UserJson } from '../../user/present';
import { activateUser, deactivateUser } from '../../user/activate';
import { restorableUntil, softDeleteUser } from '../../user/rm';
import { restoreUser } from '../../user/restore';
import { adminFrame, asSentence, consoleLib, formField, sessionOf } from './guard';
import { csrfField, formatDate, notice, sendConsolePage } from './layout';

/** Rows per page of the user list. */
export const CONSOLE_PAGE_SIZE = 50;
/** At most this many users per bulk action (a page's worth, twice). */
export const MAX_BULK = 100;

export type BulkAction = 'deactivate' | 'activate' | 'delete';
const BULK_ACTIONS: readonly BulkAction[] = ['deactivate', 'activate', 'delete'];

export interface SearchQuery {
  readonly q?: string;
  readonly role?: string;
  readonly status?: string;
  readonly confirmed?: string;
  readonly origin?: string;
  readonly tag?: string;
  readonly after?: string;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, 200) : '';
}

/** The query string's filters as `list`'s UserFilter (unknown values are ignored, never a 500). */
export function filterOf(query: SearchQuery): UserFilter {
  const q = str(query.q).trim();
  const tag = str(query.tag).trim();
  const after = /^\d{1,15}$/.test(str(query.after)) ? Number(query.after) : 0;
  const role = str(query.role);
  const status = str(query.status);
  const confirmed = str(query.confirmed);
  const origin = str(query.origin);
  return {
    ...(q ? { search: q } : {}),
    ...(tag ? { tag } : {}),
    ...(role === 'admin' ? { admin: true } : role === 'moderator' ? { moderator: true } : {}),
    ...(status === 'active' ? { active: true } : status === 'deactivated' ? { active: false } : {}),
    ...(confirmed === 'yes' ? { confirmed: true } : confirmed === 'no' ? { confirmed: false } : {}),
    local: origin === 'remote' ? false : origin === 'all' ? null : true,
    after,
  };
}

/** One keyset page: up to `size` users after `filter.after`, and whether more follow. */
export async function userPage(
  state: AppState,
  request: FastifyRequest,
  filter: UserFilter,
  size = CONSOLE_PAGE_SIZE,
): Promise<{ users: UserJson[]; more: boolean }> {
  const db = await state.db(request);
  for await (const page of listUsers(db, { ...filter, limit: size + 1 }, size + 1)) {
    return { users: page.slice(0, size), more: page.length > size };
  }
  return { users: [], more: false };
}

function option(value: string, current: string, label: string): Html {
  return html`<option value="${value}" ${value === current ? html`selected` : null}>${label}</option>`;
}

/** One of the search form's filters: a labelled select whose current value is selected. */
function selectField(name: string, label: string, current: string, choices: readonly (readonly [value: string, text: string])[]): Html {
  return html`<div class="field">
    <label for="${name}">${label}</label><br /><select id="${name}" name="${name}">
      ${choices.map(([value, text]) => option(value, current, text))}
    </select>
  </div>`;
}

function flags(u: UserJson): string {
  const out: string[] = [];
  if (u.admin) out.push('admin');
  if (u.moderator) out.push('moderator');
  if (!u.active) out.push('deactivated');
  if (!u.confirmed) out.push('unconfirmed');
  if (u.locked) out.push('locked');
  if (!u.local) out.push('remote');
  return out.join(', ');
}

function nextLink(query: SearchQuery, after: number): string {
  const params = new URLSearchParams();
  for (const key of ['q', 'role', 'status', 'confirmed', 'origin', 'tag'] as const) {
    const v = str(query[key]);
    if (v) params.set(key, v);
  }
  params.set('after', String(after));
  return `?${params.toString()}`;
}

export function userListRoutes(app: FastifyInstance, state: AppState): void {
  app.get<{ Querystring: SearchQuery }>('/admin/users', async (request, reply) => {
    const query = request.query;
    const filter = filterOf(query);
    let page: { users: UserJson[]; more: boolean };
    try {
      page = await userPage(state, request, filter);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      return sendConsolePage(reply, 400, adminFrame(request, 'Manage users'), notice('error', asSentence(error.message)));
    }
    const rows = page.users.map(
      (u) =>
        html`<tr>
          <td><input type="checkbox" name="user_${u.id}" value="1" id="select-${u.id}" aria-label="Select ${u.nickname}" /></td>
          <td><a href="/admin/users/${u.id}">${u.nickname}</a></td>
          <td>${u.email ?? ''}</td>
          <td>${u.name}</td>
          <td>${flags(u)}</td>
          <td>${formatDate(u.lastLoginAt)}</td>
        </tr>`,
    );
    const csrf = sessionOf(request).csrfToken;
    return sendConsolePage(
      reply,
      200,
      adminFrame(request, 'Manage users'),
      html`<form method="get" action="/admin/users" class="filters" role="search">
          <div class="field">
            <label for="q">Search nickname, email or name</label><br /><input id="q" name="q" type="search" value="${str(query.q)}" autofocus />
          </div>
          ${selectField('role', 'Role', str(query.role), [
            ['', 'any'],
            ['admin', 'admin'],
            ['moderator', 'moderator'],
          ])}
          ${selectField('status', 'Status', str(query.status), [
            ['', 'any'],
            ['active', 'active'],
            ['deactivated', 'deactivated'],
          ])}
          ${selectField('confirmed', 'Confirmed', str(query.confirmed), [
            ['', 'any'],
            ['yes', 'yes'],
            ['no', 'no'],
          ])}
          ${selectField('origin', 'Accounts', str(query.origin), [
            ['', 'local'],
            ['remote', 'remote'],
            ['all', 'all'],
          ])}
          <div class="field"><label for="tag">Tag</label><br /><input id="tag" name="tag" type="text" size="10" value="${str(query.tag)}" /></div>
          <button type="submit" id="search">Search</button>
        </form>
        <form method="post" action="/admin/users/bulk">
          ${csrfField(csrf)}
          <table id="users">
            <thead>
              <tr>
                <th><span class="hint">Select</span></th>
                <th>Nickname</th>
                <th>Email</th>
                <th>Name</th>
                <th>Flags</th>
                <th>Last login</th>
              </tr>
            </thead>
            <tbody>
              ${
                rows.length > 0
                  ? rows
                  : html`<tr>
                      <td colspan="6" id="no-users">No users match.</td>
                    </tr>`
              }
            </tbody>
          </table>
          <div class="actions">
            <button type="submit" name="action" value="deactivate" id="bulk-deactivate">Deactivate selected</button>
            <button type="submit" name="action" value="activate" id="bulk-activate">Activate selected</button>
            <button type="submit" name="action" value="delete" id="bulk-delete" class="danger">Delete selected</button>
          </div>
        </form>
        <p>
          ${filter.after ? html`<a href="${nextLink(query, 0).replace(/&?after=0/, '')}">First page</a>` : null}
          ${page.more ? html`<a id="next-page" href="${nextLink(query, page.users[page.users.length - 1].id)}">Next page</a>` : null}
        </p>`,
    );
  });

  /** The users a bulk form names (`user_<id>` fields), as rows. */
  async function selected(request: FastifyRequest): Promise<{ id: number; nickname: string; email: string | null; name: string }[]> {
    const ids = Object.keys((request.body as Record<string, unknown> | undefined) ?? {})
      .map((k) => /^user_(\d{1,15})$/.exec(k)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .slice(0, MAX_BULK);
    if (ids.length === 0) return [];
    const db = await state.db(request);
    return db.selectFrom('users').select(['id', 'nickname', 'email', 'name']).where('id', 'in', ids).orderBy('id').execute();
  }

  const actionOf = (request: FastifyRequest): BulkAction | null => {
    const a = formField(request.body, 'action');
    return (BULK_ACTIONS as readonly string[]).includes(a) ? (a as BulkAction) : null;
  };

  const verbLabel: Record<BulkAction, string> = { deactivate: 'Deactivate', activate: 'Activate', delete: 'Delete' };

  app.post('/admin/users/bulk', async (request, reply) => {
    const action = actionOf(request);
    const users = await selected(request);
    if (!action || users.length === 0) {
      return sendConsolePage(
        reply,
        400,
        adminFrame(request, 'Nothing selected'),
        html`${notice('error', action ? 'Select at least one user first.' : 'Choose deactivate, activate or delete.')}
          <p><a href="/admin/users">Back to the users</a></p>`,
      );
    }
    const n = users.length;
    const noun = n === 1 ? 'user' : 'users';
    return sendConsolePage(
      reply,
      200,
      adminFrame(request, `${verbLabel[action]} ${n} ${noun}?`),
      html`<p id="confirm-summary">${verbLabel[action]} ${n === 1 ? 'this user' : `these ${n} users`}:</p>
        <ul id="confirm-list">
          ${users.map((u) => html`<li>${u.nickname} (${u.email ?? 'no email'})</li>`)}
        </ul>
        ${
          action === 'delete'
            ? html`<p class="hint">
                A soft delete: the accounts can be recovered from Deleted users within the retention window (${state.config.retentionDays} days).
              </p>`
            : null
        }
        <form method="post" action="/admin/users/bulk/confirm">
          ${csrfField(sessionOf(request).csrfToken)}
          <input type="hidden" name="action" value="${action}" />
          ${users.map((u) => html`<input type="hidden" name="user_${u.id}" value="1" />`)}
          <div class="actions">
            <button type="submit" id="confirm" class="${action === 'delete' ? 'danger' : ''}">${verbLabel[action]} ${n} ${noun}</button>
            <a href="/admin/users">Cancel</a>
          </div>
        </form>`,
    );
  });

  app.post('/admin/users/bulk/confirm', async (request, reply) => {
    const action = actionOf(request);
    const users = await selected(request);
    if (!action || users.length === 0) return reply.redirect('/admin/users', 303);
    const ctx = await consoleLib(state, request);
    const results: { nickname: string; outcome: 'done' | 'unchanged' | 'refused'; text: string }[] = [];
    // One user at a time, each in its own transaction through its CLI verb's function, with the
    // same guards (the last admin, remote accounts) and the same audit row.
    for (const u of users) {
      try {
        const changed =
          action === 'delete'
            ? (await softDeleteUser(ctx, u, state.config)).changed
            : action === 'activate'
              ? (await activateUser(ctx, u)).changed
              : (await deactivateUser(ctx, u)).changed;
        const past = { delete: 'deleted', activate: 'activated', deactivate: 'deactivated' }[action];
        results.push({ nickname: u.nickname, outcome: changed ? 'done' : 'unchanged', text: changed ? past : `already ${past}` });
      } catch (error) {
        if (!(error instanceof CtlError)) throw error;
        results.push({ nickname: u.nickname, outcome: 'refused', text: asSentence(error.message) });
      }
    }
    const done = results.filter((r) => r.outcome !== 'refused').length;
    return sendConsolePage(
      reply,
      done === 0 ? 409 : 200,
      adminFrame(request, `${verbLabel[action]}: ${done} of ${results.length} done`),
      html`<table id="results">
          <thead>
            <tr>
              <th>User</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            ${results.map(
              (r) =>
                html`<tr data-outcome="${r.outcome}">
                  <td>${r.nickname}</td>
                  <td>${r.text}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        <p><a href="/admin/users">Back to the users</a></p>`,
    );
  });

  const deletedPage = async (request: FastifyRequest<{ Querystring: SearchQuery }>, reply: FastifyReply, status: number, message: Html | null) => {
    const filter = { ...filterOf(request.query), deleted: true, local: true };
    const page = await userPage(state, request, filter);
    const now = state.now().getTime();
    const csrf = sessionOf(request).csrfToken;
    const rows = page.users.map((u) => {
      const until = restorableUntil(u.deletedAt!, state.config);
      const days = Math.ceil((until.getTime() - now) / 86400e3);
      return html`<tr>
        <td><a href="/admin/users/${u.id}">${u.nickname}</a></td>
        <td>${u.email ?? ''}</td>
        <td>${formatDate(u.deletedAt)}</td>
        <td>${days > 0 ? `${days} ${days === 1 ? 'day' : 'days'}` : 'past the window'}</td>
        <td>
          <form method="post" action="/admin/users/${u.id}/restore">
            ${csrfField(csrf)}<input type="hidden" name="from" value="deleted" /><button type="submit" id="recover-${u.id}">Recover</button>
          </form>
        </td>
      </tr>`;
    });
    return sendConsolePage(
      reply,
      status,
      adminFrame(request, 'Deleted users'),
      html`${message}
        <p class="hint">
          Soft-deleted accounts are kept for ${state.config.retentionDays} days (CTL_RETENTION_DAYS), then <code>ctl user purge_deleted</code> removes them.
        </p>
        <form method="get" action="/admin/deleted" class="filters" role="search">
          <div class="field">
            <label for="q">Search nickname, email or name</label><br /><input id="q" name="q" type="search" value="${str(request.query.q)}" />
          </div>
          <button type="submit">Search</button>
        </form>
        <table id="deleted">
          <thead>
            <tr>
              <th>Nickname</th>
              <th>Email</th>
              <th>Deleted</th>
              <th>Left to recover</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${
              rows.length > 0
                ? rows
                : html`<tr>
                    <td colspan="5">No deleted users.</td>
                  </tr>`
            }
          </tbody>
        </table>
        ${page.more ? html`<p><a id="next-page" href="${nextLink(request.query, page.users[page.users.length - 1].id)}">Next page</a></p>` : null}`,
    );
  };

  app.get<{ Querystring: SearchQuery }>('/admin/deleted', (request, reply) => deletedPage(request, reply, 200, null));

  app.post<{ Params: { id: string }; Querystring: SearchQuery }>('/admin/users/:id/restore', async (request, reply) => {
    const ref = await userRefOf(state, request, request.params.id);
    if (ref === null) return deletedPage(request, reply, 404, notice('error', 'No such user.'));
    const { nickname } = ref;
    try {
      const done = await restoreUser(await consoleLib(state, request), ref, state.config);
      const text = done.changed
        ? `User ${nickname} recovered${done.active ? '' : ' (still deactivated, as before the delete)'}.`
        : `User ${nickname} was not deleted.`;
      return deletedPage(request, reply, 200, notice('success', text));
    } catch (error) {
      if (!(error instanceof CtlError)) throw error;
      return deletedPage(request, reply, 409, notice('error', asSentence(error.message)));
    }
  });
}

/**
 * The user with this id (deleted ones too) as the `<user>` the lib/ verbs take, or null. By id, not
 * by nickname: a remote or deleted account's nickname can be a local account's email address, and
 * the verbs that skip remote or deleted accounts would then find that other account.
 */
export async function userRefOf(state: AppState, request: FastifyRequest, id: string): Promise<{ id: number; nickname: string } | null> {
  if (!/^\d{1,15}$/.test(id)) return null;
  const row = await (await state.db(request)).selectFrom('users').select(['id', 'nickname']).where('id', '=', Number(id)).executeTakeFirst();
  return row ?? null;
}
