import { loadConfig } from '../../../lib/config';
import {
  confirmationMail,
  createMailer,
  invitationMail,
  MailDeliveryError,
  mailConfigured,
  passwordResetMail,
  sendAccountDeletedNotice,
  sendMail,
  transportOptions,
  type MailSettings,
} from '../../../lib/mail/mailer';
import { closedPort, startSmtp, type TestSmtp } from '../../helpers/smtp';

const APP = 'https://social.example';
const base: MailSettings = { smtpUrl: null, smtpServer: null, smtpAuth: null, mailFrom: 'Social <no-reply@social.example>' };
const env = (extra: Record<string, string>) => ({ CTL_ENV_FILE: '', ...extra });

describe('settings', () => {
  test('SMTP_URL, or SMTP_HOST with port, TLS flag and credentials; none: mail is not configured', () => {
    expect(mailConfigured(loadConfig(env({})))).toBe(false);
    expect(createMailer(loadConfig(env({})))).toBeNull();
    const byUrl = loadConfig(env({ SMTP_URL: 'smtp://relay.example:2525', SMTP_USER: 'app', SMTP_PASSWORD: 'pw' }));
    expect(transportOptions(byUrl)).toMatchObject({ url: 'smtp://relay.example:2525', auth: { user: 'app', pass: 'pw' }, connectionTimeout: 10000 });
    const byHost = loadConfig(env({ SMTP_HOST: 'mail.example', SMTP_USER: 'app', SMTP_PASSWORD: 'pw' }));
    expect(byHost.smtpServer).toEqual({ host: 'mail.example', port: 587, secure: false });
    expect(transportOptions(byHost)).toMatchObject({ host: 'mail.example', port: 587, secure: false, auth: { user: 'app', pass: 'pw' } });
    expect(loadConfig(env({ SMTP_HOST: 'mail.example', SMTP_PORT: '465' })).smtpServer).toEqual({ host: 'mail.example', port: 465, secure: true });
    expect(loadConfig(env({ SMTP_HOST: 'mail.example', SMTP_SECURE: 'true' })).smtpServer).toEqual({ host: 'mail.example', port: 465, secure: true });
    expect(loadConfig(env({ SMTP_HOST: 'mail.example', SMTP_PORT: '25', SMTP_SECURE: 'no' })).smtpServer).toEqual({
      host: 'mail.example',
      port: 25,
      secure: false,
    });
  });
});

describe('delivery through a real SMTP server', () => {
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startSmtp({ rejectRecipients: /^nobody@/ });
  });
  afterAll(() => smtp?.close());
  beforeEach(() => smtp.clear());

  test('sendMail delivers text and HTML to the recipient, from MAIL_FROM', async () => {
    const mailer = createMailer({ ...base, smtpUrl: smtp.url })!;
    try {
      const content = passwordResetMail({
        appUrl: APP,
        url: `${APP}/password_reset/abcdefghijklmnopqrstuvwxyz`,
        nickname: 'bob',
        name: 'Bob',
        expiresAt: null,
      });
      const sent = await sendMail(mailer, { to: { address: 'bob@example.com', name: 'Bob\r\nBcc: evil@example.com' }, ...content });
      expect(sent.accepted).toEqual(['bob@example.com']);
      const [mail] = await smtp.waitFor(1);
      expect(mail.envelopeTo).toEqual(['bob@example.com']);
      expect(mail.envelopeFrom).toBe('no-reply@social.example');
      expect(mail.from).toBe('"Social" <no-reply@social.example>');
      expect(mail.subject).toBe('Reset your password for social.example');
      expect(mail.text.trim()).toBe(content.text.trim());
      expect(mail.htmlLinks).toContain(`${APP}/password_reset/abcdefghijklmnopqrstuvwxyz`);
      expect(mail.parsed.bcc).toBeUndefined();
    } finally {
      mailer.close();
    }
  });

  test('a refused recipient and a dead server are MailDeliveryErrors with a one-line reason', async () => {
    const mailer = createMailer({ ...base, smtpUrl: smtp.url })!;
    const content = confirmationMail({ appUrl: APP, url: `${APP}/verify/x`, nickname: 'n', expiresAt: null });
    try {
      const refused = await sendMail(mailer, { to: { address: 'nobody@example.com' }, ...content }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(MailDeliveryError);
      expect((refused as MailDeliveryError).to).toBe('nobody@example.com');
      expect((refused as MailDeliveryError).reason).toMatch(/550/);
      expect((refused as MailDeliveryError).reason).not.toContain('\n');
    } finally {
      mailer.close();
    }
    const dead = createMailer({ ...base, smtpUrl: `smtp://app:hunter2@127.0.0.1:${await closedPort()}` })!;
    const down = await sendMail(dead, { to: { address: 'bob@example.com' }, ...content }).catch((e: unknown) => e);
    dead.close();
    expect(down).toBeInstanceOf(MailDeliveryError);
    expect((down as MailDeliveryError).reason).toMatch(/ECONNREFUSED/);
    expect((down as Error).message).not.toContain('hunter2');
    expect(smtp.messages).toHaveLength(0);
  });

  test('SMTP_HOST/SMTP_PORT with SMTP_USER/SMTP_PASSWORD authenticate; a wrong password is a delivery error', async () => {
    const authed = await startSmtp({ auth: { user: 'app', pass: 's3cret' } });
    try {
      const config = loadConfig(
        env({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(authed.port), SMTP_USER: 'app', SMTP_PASSWORD: 's3cret', MAIL_FROM: 'ops@example.com' }),
      );
      const mailer = createMailer(config)!;
      expect(mailer.describe).toBe(`smtp://127.0.0.1:${authed.port}`);
      await sendMail(mailer, {
        to: { address: 'carol@example.com' },
        ...invitationMail({ appUrl: APP, url: `${APP}/registration/t`, expiresAt: null, uses: 1 }),
      });
      mailer.close();
      const [mail] = await authed.waitFor(1);
      expect(mail).toMatchObject({
        user: 'app',
        envelopeTo: ['carol@example.com'],
        envelopeFrom: 'ops@example.com',
        subject: 'You are invited to join social.example',
      });

      const wrong = createMailer({ ...config, smtpAuth: { user: 'app', password: 'wrong-one' } })!;
      const error = await sendMail(wrong, {
        to: { address: 'carol@example.com' },
        ...invitationMail({ appUrl: APP, url: 'x', expiresAt: null, uses: 1 }),
      }).catch((e: unknown) => e);
      wrong.close();
      expect(error).toBeInstanceOf(MailDeliveryError);
      expect((error as Error).message).not.toContain('wrong-one');
      expect(authed.messages).toHaveLength(1);
    } finally {
      await authed.close();
    }
  });

  test('sendAccountDeletedNotice mails the deleted user, and does nothing without an address', async () => {
    const mailer = createMailer({ ...base, smtpUrl: smtp.url })!;
    try {
      expect(await sendAccountDeletedNotice(mailer, { nickname: 'ghost', email: null }, { appUrl: APP })).toBeNull();
      const sent = await sendAccountDeletedNotice(
        mailer,
        { nickname: 'bob', email: 'bob@example.com', name: 'Bob' },
        { appUrl: APP, restorableUntil: new Date('2026-06-01T00:00:00Z') },
      );
      expect(sent?.accepted).toEqual(['bob@example.com']);
      const [mail] = await smtp.waitFor(1);
      expect(mail).toMatchObject({ envelopeTo: ['bob@example.com'], subject: 'Your account on social.example was deleted' });
      expect(mail.text).toContain('until then the account can be restored');
    } finally {
      mailer.close();
    }
  });
});
