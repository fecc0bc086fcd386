// lib/mail owns mail: the SMTP mailer made from the settings (this file) and the text of every
// mail ctl sends (templates.ts, pure functions). lib/ never decides to mail; callers do.
import type { SMTPTransportOptions } from 'nodemailer';
import type { Config } from '../config';
import { accountDeletedMail, type AccountDeletedMailInput, type MailContent } from './templates';

export * from './templates';

/** The settings mail needs (a slice of Config, so tests and the app can pass just these). */
export type MailSettings = Pick<Config, 'smtpUrl' | 'smtpServer' | 'smtpAuth' | 'mailFrom'>;

export interface Recipient {
  readonly address: string;
  readonly name?: string | null;
}

export interface OutgoingMail extends MailContent {
  readonly to: Recipient;
}

export interface SentMail {
  readonly messageId: string;
  readonly accepted: readonly string[];
}

/**
 * What sends mail. createMailer gives the SMTP one; the app server and tests may pass any object
 * of this shape.
 */
export interface Mailer {
  /** For messages: where mail goes, without credentials (`smtp://mail.example:587`). */
  readonly describe: string;
  send(mail: OutgoingMail): Promise<SentMail>;
  close(): void;
}

/** A send that failed: the reason is one line and never holds credentials. */
export class MailDeliveryError extends Error {
  constructor(
    readonly to: string,
    readonly reason: string,
  ) {
    super(`mail to ${to} could not be sent: ${reason}`);
    this.name = 'MailDeliveryError';
  }
}

/** True when SMTP_URL or SMTP_HOST is set. */
export function mailConfigured(settings: MailSettings): boolean {
  return Boolean(settings.smtpUrl || settings.smtpServer);
}

/** Short waits: a CLI run must not hang for nodemailer's default two minutes on a dead server. */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as const;

/** nodemailer's SMTP options for these settings; null when mail is not configured. */
export function transportOptions(settings: MailSettings): SMTPTransportOptions | null {
  if (!mailConfigured(settings)) return null;
  const auth = settings.smtpAuth ? { auth: { user: settings.smtpAuth.user, pass: settings.smtpAuth.password } } : {};
  if (settings.smtpUrl) return { ...SMTP_TIMEOUTS, ...auth, url: settings.smtpUrl };
  const server = settings.smtpServer!;
  return { ...SMTP_TIMEOUTS, ...auth, host: server.host, port: server.port, secure: server.secure };
}

function describe(settings: MailSettings): string {
  if (settings.smtpServer) return `${settings.smtpServer.secure ? 'smtps' : 'smtp'}://${settings.smtpServer.host}:${settings.smtpServer.port}`;
  try {
    const url = new URL(settings.smtpUrl!);
    return `${url.protocol}//${url.host}`;
  } catch {
    return 'the SMTP server';
  }
}

/** Display names are the user's text: no control characters in a header, whatever nodemailer encodes. */
function displayName(name: string | null | undefined): string | undefined {
  const clean = (name ?? '').replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return clean === '' ? undefined : clean;
}

/** The first line of a transport error, with anything that looks like credentials removed. */
export function mailErrorReason(error: unknown): string {
  const e = error as { message?: string; code?: string; responseCode?: number };
  const line = (e?.message ?? String(error))
    .split('\n')[0]
    .replace(/\/\/[^/@\s]*@/g, '//***@')
    .trim();
  return line || e?.code || 'unknown error';
}

/**
 * The SMTP mailer from SMTP_URL (or SMTP_HOST, SMTP_PORT, SMTP_SECURE, SMTP_USER, SMTP_PASSWORD)
 * and MAIL_FROM; null when mail is not configured. nodemailer is required only here, on first use.
 *
 * @example
 * const mailer = createMailer(config);
 * if (mailer) await sendMail(mailer, { to: { address: 'bob@example.com' }, ...passwordResetMail(input) });
 */
export function createMailer(settings: MailSettings): Mailer | null {
  const options = transportOptions(settings);
  if (!options) return null;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- task-context.ts (on every verb's path) imports this module; nodemailer loads only when a verb sends mail
  const nodemailer = require('nodemailer') as typeof import('nodemailer');
  const transport = nodemailer.createTransport(options, { from: settings.mailFrom });
  return {
    describe: describe(settings),
    async send(mail) {
      const info = await transport.sendMail({
        to: { name: displayName(mail.to.name) ?? '', address: mail.to.address },
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      });
      return { messageId: info.messageId, accepted: info.accepted.map(String) };
    },
    close: () => transport.close(),
  };
}

/** Sends one mail; any failure becomes a MailDeliveryError with a one-line reason. */
export async function sendMail(mailer: Mailer, mail: OutgoingMail): Promise<SentMail> {
  try {
    const sent = await mailer.send(mail);
    if (!sent.accepted.some((a) => a.toLowerCase() === mail.to.address.toLowerCase())) {
      throw new MailDeliveryError(mail.to.address, 'the server did not accept the recipient');
    }
    return sent;
  } catch (error) {
    if (error instanceof MailDeliveryError) throw error;
    throw new MailDeliveryError(mail.to.address, mailErrorReason(error));
  }
}

export interface DeletedAccount {
  readonly nickname: string;
  readonly email: string | null;
  readonly name?: string | null;
}

/**
 * Overleaf's notice to a deleted user, for `rm` (skipped with `--skip-email`). Returns null when
 * the account has no email address; throws MailDeliveryError when the send fails.
 */
export async function sendAccountDeletedNotice(
  mailer: Mailer,
  user: DeletedAccount,
  settings: { readonly appUrl: string; readonly restorableUntil?: Date | null },
): Promise<SentMail | null> {
  if (!user.email) return null;
  const input: AccountDeletedMailInput = {
    appUrl: settings.appUrl,
    nickname: user.nickname,
    name: user.name,
    restorableUntil: settings.restorableUntil ?? null,
  };
  return sendMail(mailer, { to: { address: user.email, name: user.name }, ...accountDeletedMail(input) });
}
