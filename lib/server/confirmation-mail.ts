import type { AppState } from './state';
import { confirmationMail, sendMail } from '../mail/mailer';

export interface MailLink {
  readonly url: string;
  readonly expiresAt: Date | null;
}

/**
 * Mails a confirmation link (lib/mail/templates.ts). Without SMTP settings, or when the server
 * refuses, the request still succeeds: the log says so, and `ctl user send_confirmation` can
 * mail a fresh link later. Never logs the link itself.
 */
export async function sendConfirmationMail(
  state: AppState,
  user: { readonly nickname: string; readonly name: string; readonly email: string | null },
  link: MailLink,
): Promise<boolean> {
  if (!user.email) return false;
  if (!state.mailer) {
    state.log(`mail is not configured (SMTP_URL): no confirmation mail sent to ${user.nickname}`);
    return false;
  }
  try {
    const content = confirmationMail({ appUrl: state.config.appUrl, nickname: user.nickname, name: user.name, url: link.url, expiresAt: link.expiresAt });
    await sendMail(state.mailer, { to: { address: user.email, name: user.name }, ...content });
    return true;
  } catch (error) {
    state.log(`the confirmation mail to ${user.nickname} could not be sent: ${(error as Error).message}`);
    return false;
  }
}
