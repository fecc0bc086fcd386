// One user's page: every field `ctl user show` prints, the audit history, and the single-user
// verbs as forms (set, tag/untag, reset_password, send_confirmation, sign_out, reset_mfa,
// activate/deactivate; delete goes through the bulk confirmation page).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppState } from '../state';
import { html, type Html, type Template } from '../html';
import { CtlError, UsageError, ConflictError, NotFoundError } from '../../errors';
import { showUser, type UserDetails } from '../../user/show';
import { auditPages, type AuditRecord } from '../../audit/audit';
import { setUser, type UserChanges } from '../../user/set';
import { changeTags, normalizeTags } from '../../user/tag';
import { createPasswordReset } from '../../user/reset_password';
import { createConfirmation } from '../../tokens/confirmation';
import { signOutUser } from '../../user/sign_out';
import { resetMfa } from '../../user/reset_mfa';
import { activateUser, deactivateUser } from '../../user/activate';
import { restorableUntil } from '../../user/rm';
import { sendConfirmationMail } from '../confirmation-mail';
import { adminFrame, asSentence, consoleLib, formField, sessionOf } from './guard';
import { csrfField, formatDate, notice, sendConsolePage } from './layout';
import { userRefOf } from './users';
import type { UserRef } from '../../user/find';
import { plural } from '../../text';

/** The newest audit rows shown on a user's page. */
export const AUDIT_ROWS = 50;

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

function fields(d: UserDetails, state: AppState): Html {
  const rows: [string, string | number][] = [
    ['id', d.id],
    ['Nickname', d.nickname],
    ['Email', d.email ?? '—'],
    ['Name', d.name],
    ['Bio', d.bio || '—'],
    ['Local', yesNo(d.local)],
    ['Site admin', yesNo(d.admin)],
    ['Moderator', yesNo(d.moderator)],
    ['Locked', yesNo(d.locked)],
    ['Confirmed', yesNo(d.confirmed)],
    ['Active', yesNo(d.active)],
    ['Deleted', d.deletedAt ? `${formatDate(d.deletedAt)} (recoverable until ${formatDate(restorableUntil(d.deletedAt, state.config))})` : 'no'],
    ['Tags', d.tags.length ? d.tags.join(', ') : '—'],
    ['Two-factor authentication', d.mfaEnabled ? 'on' : 'off'],
    ['Created', formatDate(d.createdAt)],
    ['Updated', formatDate(d.updatedAt)],
    ['Last login', formatDate(d.lastLoginAt)],
    ['Activities', d.counts.activities],
    ['Followers', d.counts.followers],
    ['Following', d.counts.following],
    ['Active sessions', d.counts.activeSessions],
  ];
  return html`<dl id="fields">
    ${rows.map(
      ([k, v]) =>
        html`<dt>${k}</dt>
          <dd data-field="${k}">${String(v)}</dd>`,
    )}
  </dl>`;
}

const auditTable: Template<readonly AuditRecord[]> = (rows) => {
  if (rows.length === 0) return html`<p id="audit">No audit entries.</p>`;
  return html`<table id="audit">
    <thead>
      <tr>
        <th>When</th>
        <th>Actor</th>
        <th>Verb</th>
        <th>Details</th>
      </tr>
    </thead>
    <tbody>
      ${[...rows].reverse().map(
        (r) =>
          html`<tr>
            <td class="when">${formatDate(r.at)}</td>
            <td>${r.actor}</td>
            <td>${r.verb}</td>
            <td><code>${JSON.stringify(r.details)}</code>${r.reason ? html` — ${r.reason}` : null}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
};

function checkbox(name: string, label: string, checked: boolean): Html {
  return html`<div class="field check">
    <input type="checkbox" id="${name}" name="${name}" value="1" ${checked ? html`checked` : null} /> <label for="${name}">${label}</label>
  </div>`;
}

function actionButton(csrf: string, id: number, action: string, label: string, danger = false): Html {
  return html`<form method="post" action="/admin/users/${id}/${action}">
    ${csrfField(csrf)}<button type="submit" id="action-${action}" class="${danger ? 'danger' : ''}">${label}</button>
  </form>`;
}

function editForms(d: UserDetails, csrf: string): Html {
  if (!d.local || d.deleted) {
    return html`<p class="hint">
        ${d.deleted ? 'A deleted account: recover it from Deleted users to change it.' : 'A remote account: only its activation can change here (tags: ctl user tag).'}
      </p>
      ${
        d.deleted
          ? null
          : html`<div class="actions">
              ${d.active ? actionButton(csrf, d.id, 'deactivate', 'Deactivate') : actionButton(csrf, d.id, 'activate', 'Activate')}
            </div>`
      }`;
  }
  // type=text for the address: a browser's type=email refuses some the email rule takes (zoë@…).
  return html`<h2>Profile</h2>
    <form method="post" action="/admin/users/${d.id}/profile">
      ${csrfField(csrf)}
      <div class="field">
        <label for="email">Email</label
        ><input class="wide" id="email" name="email" type="text" inputmode="email" autocomplete="off" value="${d.email ?? ''}" required />
      </div>
      <div class="field"><label for="name">Name</label><input class="wide" id="name" name="name" type="text" value="${d.name}" required /></div>
      <div class="field"><label for="bio">Bio</label><textarea class="wide" id="bio" name="bio" rows="3">${d.bio}</textarea></div>
      <div class="field">
        <label for="tags">Tags (comma-separated)</label><input class="wide" id="tags" name="tags" type="text" value="${d.tags.join(', ')}" />
      </div>
      <button type="submit" id="save-profile">Save profile</button>
    </form>
    <h2>Roles and state</h2>
    <form method="post" action="/admin/users/${d.id}/flags">
      ${csrfField(csrf)} ${checkbox('admin', 'Is Site Admin', d.admin)} ${checkbox('moderator', 'Moderator', d.moderator)}
      ${checkbox('confirmed', 'Email confirmed', d.confirmed)} ${checkbox('locked', 'Locked (approves followers)', d.locked)}
      <button type="submit" id="save-flags">Save roles and state</button>
    </form>
    <h2>Actions</h2>
    <div class="actions">
      ${actionButton(csrf, d.id, 'reset_password', 'Generate a password-reset link')}
      ${d.confirmed ? null : actionButton(csrf, d.id, 'send_confirmation', 'Send the confirmation mail')}
      ${actionButton(csrf, d.id, 'sign_out', 'Sign out everywhere')}
      ${d.mfaEnabled ? actionButton(csrf, d.id, 'reset_mfa', 'Reset two-factor authentication') : null}
      ${d.active ? actionButton(csrf, d.id, 'deactivate', 'Deactivate') : actionButton(csrf, d.id, 'activate', 'Activate')}
      <form method="post" action="/admin/users/bulk">
        ${csrfField(csrf)}<input type="hidden" name="user_${d.id}" value="1" /><button
          type="submit"
          name="action"
          value="delete"
          id="action-delete"
          class="danger"
        >
          Delete…
        </button>
      </form>
    </div>`;
}

export function userPageRoutes(app: FastifyInstance, state: AppState): void {
  const render = async (request: FastifyRequest, reply: FastifyReply, user: UserRef, status: number, message: Html | null) => {
    const db = await state.db(request);
    const details = await showUser(db, user, state.now());
    const audit: AuditRecord[] = [];
    for await (const page of auditPages(db, { userId: details.id, limit: AUDIT_ROWS })) audit.push(...page);
    return sendConsolePage(
      reply,
      status,
      adminFrame(request, `User ${details.nickname}`),
      html`${message} ${fields(details, state)} ${editForms(details, sessionOf(request).csrfToken)}
        <h2>Audit history (newest first, last ${AUDIT_ROWS})</h2>
        ${auditTable(audit)}`,
    );
  };

  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    sendConsolePage(
      reply,
      404,
      adminFrame(request, 'No such user'),
      html`${notice('error', 'No such user.')}
        <p><a href="/admin/users">Back to the users</a></p>`,
    );

  app.get<{ Params: { id: string } }>('/admin/users/:id', async (request, reply) => {
    const user = await userRefOf(state, request, request.params.id);
    if (user === null) return notFound(request, reply);
    return render(request, reply, user, 200, null);
  });

  /** Runs one action and shows the page again with its outcome; a refusal of the library is shown, not thrown. */
  const action = (name: string, run: (user: { readonly id: number; readonly nickname: string }, request: FastifyRequest) => Promise<Html>) => {
    app.post<{ Params: { id: string } }>(`/admin/users/:id/${name}`, async (request, reply) => {
      const user = await userRefOf(state, request, request.params.id);
      if (user === null) return notFound(request, reply);
      try {
        return await render(request, reply, user, 200, await run(user, request));
      } catch (error) {
        if (!(error instanceof CtlError)) throw error;
        const status = error instanceof UsageError ? 400 : error instanceof NotFoundError ? 404 : error instanceof ConflictError ? 409 : 403;
        return render(request, reply, user, status, notice('error', asSentence(error.message)));
      }
    });
  };

  action('profile', async (user, request) => {
    const ctx = await consoleLib(state, request);
    const current = await showUser(ctx.db, user, state.now());
    const body = request.body;
    const changes: { -readonly [K in keyof UserChanges]: UserChanges[K] } = {};
    const email = formField(body, 'email').trim();
    if (email !== (current.email ?? '')) changes.email = email;
    const name = formField(body, 'name');
    if (name !== current.name) changes.name = name;
    // A textarea sends CRLF line breaks; the stored bio keeps what was typed with LF.
    const bio = formField(body, 'bio').replace(/\r\n/g, '\n');
    if (bio !== current.bio) changes.bio = bio;
    const wantedTags = formField(body, 'tags')
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    const tags = wantedTags.length ? normalizeTags(wantedTags) : [];
    const added = tags.filter((t) => !current.tags.includes(t));
    const removed = current.tags.filter((t) => !tags.includes(t));
    // Each part begins with a word of the console's own (a field's name, tagged, untagged), so
    // the sentence's first letter is written a capital here, where the words are known.
    const said: string[] = [];
    if (Object.keys(changes).length > 0) {
      const done = await setUser(ctx, user, changes, state.config);
      said.push(...done.fields.filter((f) => f.changed).map((f) => `${f.field} changed`));
    }
    if (added.length) said.push(`tagged ${(await changeTags(ctx, 'tag', user, added)).added.join(', ')}`);
    if (removed.length) said.push(`untagged ${(await changeTags(ctx, 'untag', user, removed)).removed.join(', ')}`);
    if (said.length === 0) return notice('success', 'Nothing changed.');
    const text = said.join('; ');
    return notice('success', asSentence(`${text.charAt(0).toUpperCase()}${text.slice(1)}`));
  });

  action('flags', async (user, request) => {
    const ctx = await consoleLib(state, request);
    const current = await showUser(ctx.db, user, state.now());
    const changes: { -readonly [K in keyof UserChanges]: UserChanges[K] } = {};
    for (const flag of ['admin', 'moderator', 'confirmed', 'locked'] as const) {
      const wanted = formField(request.body, flag) === '1';
      if (wanted !== current[flag]) changes[flag] = wanted;
    }
    if (Object.keys(changes).length === 0) return notice('success', 'Nothing changed.');
    const done = await setUser(ctx, user, changes, state.config);
    const said = done.fields.map((f) => `${f.field}: ${yesNo(Boolean(f.to))}`).join(', ');
    return html`${notice('success', `Saved (${said}).`)}${done.confirmation ? notice('once', html`New confirmation link (shown once): ${done.confirmation.url}`, 'link') : null}`;
  });

  action('reset_password', async (user, request) => {
    const { nickname } = user;
    const issued = await createPasswordReset(await consoleLib(state, request), user, state.config);
    return notice(
      'once',
      html`Password reset link for ${nickname}, shown only this once (expires ${formatDate(issued.expiresAt)}):<br /><span id="reset-url">${issued.url}</span>`,
      'link',
    );
  });

  action('send_confirmation', async (user, request) => {
    const { nickname } = user;
    const issued = await createConfirmation(await consoleLib(state, request), user, state.config);
    if (!issued.confirmation) return notice('success', `${nickname} doesn't need confirmation.`);
    const mailed = await sendConfirmationMail(state, issued.user, issued.confirmation);
    return mailed
      ? notice('success', `Confirmation link mailed to ${issued.user.email}.`)
      : notice('once', html`Mail is not configured or failed: pass this confirmation link on yourself (shown once): ${issued.confirmation.url}`, 'link');
  });

  action('sign_out', async (user, request) => {
    const { nickname } = user;
    const done = await signOutUser(await consoleLib(state, request), user);
    // The CLI's count: a login holds an access token and, for LibreChat's client, a refresh token.
    const { access, refresh, authorization } = done.revoked;
    return notice(
      'success',
      `${nickname} signed out from all apps: ${plural(done.total, 'token')} revoked (access ${access}, refresh ${refresh}, authorization ${authorization}).`,
    );
  });

  action('reset_mfa', async (user, request) => {
    const { nickname } = user;
    const done = await resetMfa(await consoleLib(state, request), user);
    return notice('success', done.changed ? `Two-factor authentication of ${nickname} was reset.` : `${nickname} had no two-factor authentication.`);
  });

  action('deactivate', async (user, request) => {
    const { nickname } = user;
    const done = await deactivateUser(await consoleLib(state, request), user);
    return notice('success', done.changed ? `User ${nickname} deactivated.` : `User ${nickname} was already deactivated.`);
  });

  action('activate', async (user, request) => {
    const { nickname } = user;
    const done = await activateUser(await consoleLib(state, request), user);
    return notice('success', done.changed ? `User ${nickname} activated.` : `User ${nickname} was already active.`);
  });
}
