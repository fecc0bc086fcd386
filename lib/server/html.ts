/** The small server-rendered pages behind the links: no scripts, no external assets. */
import type { FastifyReply } from 'fastify';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A trusted HTML fragment (built with `html` below, so every value inside is escaped). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/**
 * What a template may interpolate: text and numbers (escaped), Html fragments (kept), nothing
 * (null, undefined, false: left out), and lists of these. A Date or an object is a compile error
 * rather than "[object Object]" on a page: a template says how it shows one.
 */
export type Interpolation = string | number | boolean | null | undefined | Html | readonly Interpolation[];

/** A page or fragment as a function of its typed data. */
export type Template<T> = (data: T) => Html;

/** Tagged template: interpolated strings are escaped, Html fragments and arrays of them are not. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0];
  values.forEach((value, i) => {
    for (const v of flatten(value)) out += v instanceof Html ? v.text : v === null || v === undefined || v === false ? '' : escapeHtml(String(v));
    out += strings[i + 1];
  });
  return new Html(out);
}

function flatten(value: Interpolation): Exclude<Interpolation, readonly Interpolation[]>[] {
  return Array.isArray(value) ? (value as readonly Interpolation[]).flatMap(flatten) : [value as Exclude<Interpolation, readonly Interpolation[]>];
}

/** Scripts are off, forms post only back here, and nothing may frame the page. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #1b1b1b; }
  h1 { font-size: 1.4rem; }
  label { display: block; margin-top: 1rem; font-weight: 600; }
  input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; }
  button { margin-top: 1.5rem; padding: .6rem 1.2rem; font: inherit; }
  .error { background: #fde8e8; border-left: 4px solid #c81e1e; padding: .75rem; }
  .success { background: #e6f4ea; border-left: 4px solid #1e7b34; padding: .75rem; }
  .hint { color: #555; font-size: .9rem; }`;

export function page(title: string, body: Html): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body.text}
</main>
</body>
</html>
`;
}

export function message(kind: 'error' | 'success', text: string, id = kind): Html {
  return html`<p class="${kind}" id="${id}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`;
}

/** A page as the reply: HTML with this app's CSP, never framed. */
export function sendPage(reply: FastifyReply, status: number, title: string, body: Html): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .header('x-frame-options', 'DENY')
    .send(page(title, body));
}

/**
 * A form field as text: a page form sends text, but a JSON body may send anything, and a field
 * that is not text counts as empty (never a 500 from calling a string method on it).
 */
export function formField(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}
