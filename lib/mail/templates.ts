/**
 * The text and HTML bodies of every mail `ctl` sends. Pure functions: strings in, strings out.
 * Every value that came from a person (names, nicknames) is HTML-escaped in the HTML part, and
 * links are always shown in full in the text part so a plain-text reader can copy them.
 */

export interface MailContent {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export interface SiteInfo {
  /** APP_URL: the base of every link, and the site's name in subjects (its host). */
  readonly appUrl: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** One line: control characters (a name with a line break) never reach a subject or a body line. */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
}

/** The site as people know it: the host (and port) of APP_URL. */
export function siteName(appUrl: string): string {
  try {
    return new URL(appUrl).host;
  } catch {
    return appUrl;
  }
}

/** `2026-05-01 12:00 UTC`: unambiguous whatever the reader's time zone. */
export function formatInstant(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

interface Body {
  readonly greeting: string;
  readonly paragraphs: readonly string[];
  readonly link?: { readonly url: string; readonly label: string };
  readonly after?: readonly string[];
}

/** Builds both parts from one description, so text and HTML always say the same thing. */
function compose(subject: string, site: SiteInfo, body: Body): MailContent {
  const name = siteName(site.appUrl);
  const text = [
    body.greeting,
    '',
    ...body.paragraphs.flatMap((p) => [p, '']),
    ...(body.link ? [`${body.link.label}:`, body.link.url, ''] : []),
    ...(body.after ?? []).flatMap((p) => [p, '']),
    '-- ',
    site.appUrl,
    '',
  ].join('\n');
  const p = (t: string) => `<p>${escapeHtml(t)}</p>`;
  const html = [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    `<title>${escapeHtml(subject)}</title></head>`,
    '<body style="font-family: sans-serif; line-height: 1.5; max-width: 36em;">',
    p(body.greeting),
    ...body.paragraphs.map(p),
    ...(body.link
      ? [
          `<p><a href="${escapeHtml(body.link.url)}" style="display: inline-block; padding: 0.5em 1em; background: #2b6cb0; color: #fff; text-decoration: none; border-radius: 4px;">${escapeHtml(body.link.label)}</a></p>`,
          `<p style="font-size: 0.9em; color: #555;">Or copy this address into your browser:<br><a href="${escapeHtml(body.link.url)}">${escapeHtml(body.link.url)}</a></p>`,
        ]
      : []),
    ...(body.after ?? []).map(p),
    `<p style="font-size: 0.9em; color: #555;">&mdash; <a href="${escapeHtml(site.appUrl)}">${escapeHtml(name)}</a></p>`,
    '</body></html>',
    '',
  ].join('\n');
  return { subject: oneLine(subject), text, html };
}

function hello(name: string | null | undefined): string {
  const n = name ? oneLine(name) : '';
  return n ? `Hello ${n},` : 'Hello,';
}

function until(expiresAt: Date | null): string {
  return expiresAt ? `The link works once, until ${formatInstant(expiresAt)}.` : 'The link works once.';
}

export interface InvitationMailInput extends SiteInfo {
  readonly url: string;
  readonly name?: string | null;
  /** The last day the invite works (UTC), 'YYYY-MM-DD'. */
  readonly expiresAt: string | null;
  /** How many accounts the invite can create (1 unless reusable). */
  readonly uses: number;
}

/** LibreChat's invite-user: a registration link for someone without an account yet. */
export function invitationMail(input: InvitationMailInput): MailContent {
  const site = siteName(input.appUrl);
  const limits = [
    input.expiresAt ? `The invitation works until the end of ${input.expiresAt} (UTC).` : null,
    input.uses > 1 ? `It can create up to ${input.uses} accounts.` : null,
  ].filter((s): s is string => s !== null);
  return compose(`You are invited to join ${site}`, input, {
    greeting: hello(input.name),
    paragraphs: [`You have been invited to create an account on ${site}.`, ...limits],
    link: { url: input.url, label: 'Create your account' },
    after: ['If you did not expect this invitation, you can ignore this mail.'],
  });
}

export interface UserLinkMailInput extends SiteInfo {
  readonly nickname: string;
  readonly name?: string | null;
  readonly url: string;
  readonly expiresAt: Date | null;
}

/** Overleaf's mail for an account an admin created without a password. */
export function setPasswordMail(input: UserLinkMailInput): MailContent {
  const site = siteName(input.appUrl);
  return compose(`Set your password for ${site}`, input, {
    greeting: hello(input.name ?? input.nickname),
    paragraphs: [
      `An account was created for you on ${site}. Your user name is ${oneLine(input.nickname)}.`,
      `Choose a password to start using it. ${until(input.expiresAt)}`,
    ],
    link: { url: input.url, label: 'Set your password' },
  });
}

export function passwordResetMail(input: UserLinkMailInput): MailContent {
  const site = siteName(input.appUrl);
  return compose(`Reset your password for ${site}`, input, {
    greeting: hello(input.name ?? input.nickname),
    paragraphs: [
      `A password reset was requested for your account ${oneLine(input.nickname)} on ${site}.`,
      `Choose a new password with the link below. ${until(input.expiresAt)} Setting a new password signs you out everywhere.`,
    ],
    link: { url: input.url, label: 'Choose a new password' },
    after: ['If you did not ask for this, you can ignore this mail: your password stays as it is.'],
  });
}

export function confirmationMail(input: UserLinkMailInput): MailContent {
  const site = siteName(input.appUrl);
  return compose(`Confirm your email address for ${site}`, input, {
    greeting: hello(input.name ?? input.nickname),
    paragraphs: [`Please confirm that this is the email address of your account ${oneLine(input.nickname)} on ${site}. ${until(input.expiresAt)}`],
    link: { url: input.url, label: 'Confirm your email address' },
    after: ['If you do not have an account there, you can ignore this mail.'],
  });
}

export interface AccountDeletedMailInput extends SiteInfo {
  readonly nickname: string;
  readonly name?: string | null;
  /** Soft delete: the day until which an admin can still restore the account; null when purged. */
  readonly restorableUntil?: Date | null;
}

/** Overleaf's notice to a deleted user (skipped with `rm --skip-email`). */
export function accountDeletedMail(input: AccountDeletedMailInput): MailContent {
  const site = siteName(input.appUrl);
  const restore = input.restorableUntil
    ? `If this was a mistake, contact the administrators of ${site} before ${formatInstant(input.restorableUntil)}: until then the account can be restored.`
    : `The account and its data have been removed and cannot be restored.`;
  return compose(`Your account on ${site} was deleted`, input, {
    greeting: hello(input.name ?? input.nickname),
    paragraphs: [`Your account ${oneLine(input.nickname)} on ${site} was deleted by an administrator.`, restore],
  });
}
