// The console's page frame: the link pages' escaping template (../html.ts: every interpolated
// value is escaped unless it is an Html fragment built the same way) and their headers (CSP
// without scripts, frame-ancestors 'none' and X-Frame-Options DENY).
import type { FastifyReply } from 'fastify';
import { html, Html, PAGE_CSP } from '../html';

const STYLE = `
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1b1b1b; }
  header { background: #1f3a5f; color: #fff; padding: .6rem 1.5rem; display: flex; gap: 1.5rem; align-items: center; flex-wrap: wrap; }
  header a { color: #fff; }
  header form { margin: 0 0 0 auto; }
  header button { margin: 0; }
  main { max-width: 64rem; margin: 1.5rem auto; padding: 0 1.5rem; }
  h1 { font-size: 1.4rem; }
  h2 { font-size: 1.1rem; margin-top: 2rem; }
  label { font-weight: 600; }
  .field { margin: .8rem 0; }
  .field label { display: block; }
  .field.check label { display: inline; font-weight: normal; }
  td.when { white-space: nowrap; }
  td code { word-break: break-all; }
  input[type=text], input[type=email], input[type=password], input[type=search], textarea, select { padding: .4rem; font: inherit; box-sizing: border-box; }
  .wide { width: 100%; max-width: 32rem; }
  button { padding: .45rem 1rem; font: inherit; cursor: pointer; }
  button.danger { background: #b42318; color: #fff; border: 1px solid #8a1b12; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { background: #f3f4f6; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
  dt { font-weight: 600; }
  dd { margin: 0; }
  .filters { display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: end; }
  .actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: 1rem 0; }
  .actions form { margin: 0; }
  .error { background: #fde8e8; border-left: 4px solid #c81e1e; padding: .75rem; }
  .success { background: #e6f4ea; border-left: 4px solid #1e7b34; padding: .75rem; }
  .once { background: #fff7e0; border-left: 4px solid #b7791f; padding: .75rem; word-break: break-all; }
  .hint { color: #555; font-size: .9rem; }
  :focus-visible { outline: 3px solid #2563eb; outline-offset: 2px; }`;

export interface Frame {
  readonly title: string;
  /** The signed-in administrator (shows the menu and the sign-out form), or null. */
  readonly admin: { readonly nickname: string; readonly csrfToken: string } | null;
}

function nav(admin: NonNullable<Frame['admin']>): Html {
  return html`<header>
    <strong>userctl console</strong>
    <nav aria-label="Console">
      <a href="/admin/users">Manage users</a> · <a href="/admin/deleted">Deleted users</a> · <a href="/admin/register">Register users</a> ·
      <a href="/admin/licence">Licence</a>
    </nav>
    <form method="post" action="/admin/logout">
      <input type="hidden" name="_csrf" value="${admin.csrfToken}" />
      <span>${admin.nickname}</span> <button type="submit" id="sign-out">Sign out</button>
    </form>
  </header>`;
}

export function documentOf(frame: Frame, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${frame.title} · userctl console</title>
        <style>
          ${new Html(STYLE)}
        </style>
      </head>
      <body>
        ${frame.admin ? nav(frame.admin) : null}
        <main>
          <h1>${frame.title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}

/** A console page as the reply, with the link pages' CSP and anti-framing headers. */
export function sendConsolePage(reply: FastifyReply, status: number, frame: Frame, body: Html): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .header('x-frame-options', 'DENY')
    .send(documentOf(frame, body).text);
}

export function csrfField(token: string): Html {
  return html`<input type="hidden" name="_csrf" value="${token}" />`;
}

export function notice(kind: 'error' | 'success' | 'once', text: string | Html, id: string = kind): Html {
  return html`<div class="${kind}" id="${id}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</div>`;
}

export function formatDate(date: Date | null): string {
  return date ? date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—';
}
