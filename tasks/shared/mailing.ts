import { PartialFailureError } from '../../lib/errors';
import type { MailContent, Recipient } from '../../lib/mail/mailer';
import type { TaskContext } from '../runner/task-context';
import { sendMail, mailErrorReason, sendAccountDeletedNotice } from '../../lib/mail/mailer';

/** Every kind of mail a verb sends. */
export type MailKind = 'invitation' | 'set_password' | 'password_reset' | 'email_confirmation' | 'account_deleted';

/** How one mail went, as a verb's JSON result shows it (`mail: [...]`). */
export interface MailReport {
  readonly kind: MailKind;
  readonly to: string | null;
  /** not_configured: no SMTP_URL/SMTP_HOST; no_address: the user has no email address. */
  readonly status: 'sent' | 'not_configured' | 'no_address' | 'failed';
  readonly error: string | null;
}

const LABEL: Record<MailKind, string> = {
  invitation: 'Invitation',
  set_password: 'Set-password link',
  password_reset: 'Password reset link',
  email_confirmation: 'Confirmation link',
  account_deleted: 'Account-deleted notice',
};

/**
 * Sends one mail when mail is configured and there is an address. Never throws: a failure is
 * reported, because the database change it follows is already saved and must be said so.
 */
export async function deliver(ctx: TaskContext, kind: MailKind, to: Recipient | null, content: () => MailContent): Promise<MailReport> {
  if (!to || !to.address) return { kind, to: null, status: 'no_address', error: null };
  const mailer = ctx.mailer();
  if (!mailer) return { kind, to: to.address, status: 'not_configured', error: null };
  try {
    await sendMail(mailer, { to, ...content() });
    return { kind, to: to.address, status: 'sent', error: null };
  } catch (error) {
    const reason = (error as { reason?: string }).reason ?? mailErrorReason(error);
    return { kind, to: to.address, status: 'failed', error: reason };
  }
}

/**
 * Says how the mail went, never silently: `Invitation mailed to x` for each sent one, and one
 * plain warning when nothing could be sent because mail is not configured or there is no address.
 * `instead` tells the operator what to do then ("pass the link above on yourself").
 */
export function announceMail(ctx: TaskContext, reports: readonly MailReport[], instead: string, nickname?: string): void {
  for (const r of reports) if (r.status === 'sent') ctx.say(`${LABEL[r.kind]} mailed to ${r.to}`);
  if (reports.some((r) => r.status === 'not_configured')) {
    ctx.warn(`No mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); ${instead}`);
  } else if (reports.some((r) => r.status === 'no_address')) {
    ctx.warn(`No mail was sent: ${nickname ?? 'the user'} has no email address; ${instead}`);
  }
}

/**
 * Exit 7 after a saved change whose mail failed, saying what was saved and what was not sent.
 * Call it last, once the result has been printed.
 */
export function failIfUndelivered(reports: readonly MailReport[], saved: string, instead: string): void {
  const failed = reports.filter((r) => r.status === 'failed');
  if (failed.length === 0) return;
  const what = failed.map((r) => `the ${LABEL[r.kind].toLowerCase()} could not be mailed to ${r.to} (${r.error})`).join(' and ');
  throw new PartialFailureError(`${saved}, but ${what}; ${instead}`);
}

/**
 * `rm`'s account-deleted notice (Overleaf; `--skip-email` skips it). Sent only when mail is
 * configured and the account had an address: unlike a link, there is nothing to hand over
 * otherwise, so a deletion without mail stays as quiet as before. A failed send is exit 7
 * saying that the deletion itself was saved.
 */
export async function notifyAccountDeleted(
  ctx: TaskContext,
  user: { readonly nickname: string; readonly email: string | null; readonly name?: string | null },
  restorableUntil: Date | null,
): Promise<void> {
  const mailer = ctx.mailer();
  if (!mailer || !user.email) return;
  try {
    await sendAccountDeletedNotice(mailer, user, { appUrl: ctx.config.appUrl, restorableUntil });
  } catch (error) {
    const reason = (error as { reason?: string }).reason ?? mailErrorReason(error);
    throw new PartialFailureError(
      `User ${user.nickname} was deleted, but the account-deleted notice could not be mailed to ${user.email} (${reason}); the user was not notified`,
    );
  }
  ctx.say(`${LABEL.account_deleted} mailed to ${user.email}`);
}
