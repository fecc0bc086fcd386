import { loadConfig } from '../../lib/config';
import {
  accountDeletedMail,
  confirmationMail,
  createMailer,
  escapeHtml,
  invitationMail,
  MailDeliveryError,
  mailConfigured,
  passwordResetMail,
  sendAccountDeletedNotice,
  sendMail,
  setPasswordMail,
  transportOptions,
  type MailSettings,
} from '../../lib/mail/mailer';
import { UnavailableError } from '../../lib/errors';
import { closedPort, startSmtp, type TestSmtp } from '../helpers/smtp';

const APP = 'https://social.example';
const base: MailSettings = { smtpUrl: null, smtpServer: null, smtpAuth: null, mailFrom: 'Social <no-reply@social.example>' };
const env = (extra: Record<string, string>) => ({ CTL_ENV_FILE: '', ...extra });

describe('templates', () => {
  const url = `${APP}/registration/TOKEN123`;

  test('every kind has a subject naming the site, the link in the text and in the HTML, and no raw markup from names', () => {
    const when = new Date('2026-03-11T12:00:00Z');
    const mails = [
      invitationMail({ appUrl: APP, url, name: '<b>Jane</b>', expiresAt: '2026-04-01', uses: 3 }),
      setPasswordMail({ appUrl: APP, url, nickname: 'bob', name: 'Bob & "Co"', expiresAt: when }),
      passwordResetMail({ appUrl: APP, url, nickname: 'bob', name: null, expiresAt: when }),
      confirmationMail({ appUrl: APP, url, nickname: 'bob', name: '<script>x</script>', expiresAt: null }),
    ];
    expect(mails.map((m) => m.subject)).toEqual([
      'You are invited to join social.example',
      'Set your password for social.example',
      'Reset your password for social.example',
      'Confirm your email address for social.example',
    ]);
    for (const m of mails) {
      expect(m.text).toContain(`\n${url}\n`);
      expect(m.html).toContain(`href="${url}"`);
      expect(m.html).not.toMatch(/<script>|<b>Jane/);
    }
    expect(mails[0].text).toMatch(/^Hello <b>Jane<\/b>,\n/);
    expect(mails[0].html).toContain('<p>Hello &lt;b&gt;Jane&lt;/b&gt;,</p>');
    expect(mails[0].text).toContain('The invitation works until the end of 2026-04-01 (UTC).');
    expect(mails[0].text).toContain('It can create up to 3 accounts.');
    expect(mails[1].text).toContain('Your user name is bob.');
    expect(mails[1].text).toContain('The link works once, until 2026-03-11 12:00 UTC.');
    expect(mails[1].html).toContain('Bob &amp; &quot;Co&quot;');
    expect(mails[2].text).toMatch(/^Hello bob,\n/);
    expect(mails[3].text).toContain('The link works once.');
  });

  test('a line break in a name never reaches the subject or splits a line', () => {
    const m = setPasswordMail({ appUrl: APP, url, nickname: 'bob', name: 'Bob\r\nBcc: evil@example.com', expiresAt: null });
    expect(m.subject).not.toMatch(/[\r\n]/);
    expect(m.text.split('\n')[0]).toBe('Hello Bob Bcc: evil@example.com,');
  });

  test('the account-deleted notice says whether it can still be restored', () => {
    const soft = accountDeletedMail({ appUrl: APP, nickname: 'bob', restorableUntil: new Date('2026-06-01T00:00:00Z') });
    expect(soft.subject).toBe('Your account on social.example was deleted');
    expect(soft.text).toContain('Your account bob on social.example was deleted by an administrator.');
    expect(soft.text).toContain('before 2026-06-01 00:00 UTC: until then the account can be restored.');
    const purged = accountDeletedMail({ appUrl: APP, nickname: 'bob', restorableUntil: null });
    expect(purged.text).toContain('cannot be restored');
    expect(purged.html).not.toContain('href="https://social.example/');
  });

  test('escapeHtml escapes the five characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

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
    expect(loadConfig(env({ SMTP_HOST: 'mail.example', SMTP_PORT: '25', SMTP_SECURE: 'no' })).smtpServer).toEqual({ host: 'mail.example', port: 25, secure: false });
  });

  test.each([
    [{ SMTP_HOST: 'mail.example', SMTP_PORT: 'abc' }, 'SMTP_PORT has a bad value "abc": not a whole number'],
    [{ SMTP_HOST: 'mail.example', SMTP_PORT: '70000' }, 'SMTP_PORT has a bad value "70000": must be between 1 and 65535'],
    [{ SMTP_HOST: 'mail.example', SMTP_SECURE: 'maybe' }, 'SMTP_SECURE has a bad value "maybe": expected true or false'],
    [{ SMTP_HOST: 'mail example' }, 'SMTP_HOST has a bad value "mail example": not a host name or address'],
    [{ SMTP_HOST: 'mail.example', SMTP_URL: 'smtp://x.example' }, 'SMTP_HOST has a bad value "mail.example": set either SMTP_URL or SMTP_HOST, not both'],
    [{ SMTP_PORT: '25' }, 'SMTP_PORT has a bad value "25": needs SMTP_HOST (or put the port and scheme in SMTP_URL)'],
    [{ SMTP_URL: 'http://mail.example' }, 'SMTP_URL has a bad value "http://mail.example/": expected smtp: or smtps: URL'],
    [{ SMTP_URL: 'smtp://u:secret@mail.example:99999' }, 'SMTP_URL has a bad value "smtp://u:***@mail.example:99999": not a URL'],
    [{ SMTP_HOST: 'mail.example', SMTP_PASSWORD: 'hunter2' }, 'SMTP_PASSWORD is set but SMTP_USER is not'],
    [{ SMTP_USER: 'app' }, 'SMTP_USER has a bad value "app": needs SMTP_URL or SMTP_HOST'],
  ])('%j is exit 6 naming the variable', (vars, message) => {
    let error: unknown;
    try {
      loadConfig(env(vars));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toBe(message);
    expect((error as Error).message).not.toContain('hunter2');
    expect((error as Error).message).not.toContain('secret');
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
      const content = passwordResetMail({ appUrl: APP, url: `${APP}/password_reset/abcdefghijklmnopqrstuvwxyz`, nickname: 'bob', name: 'Bob', expiresAt: null });
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
      const config = loadConfig(env({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(authed.port), SMTP_USER: 'app', SMTP_PASSWORD: 's3cret', MAIL_FROM: 'ops@example.com' }));
      const mailer = createMailer(config)!;
      expect(mailer.describe).toBe(`smtp://127.0.0.1:${authed.port}`);
      await sendMail(mailer, { to: { address: 'carol@example.com' }, ...invitationMail({ appUrl: APP, url: `${APP}/registration/t`, expiresAt: null, uses: 1 }) });
      mailer.close();
      const [mail] = await authed.waitFor(1);
      expect(mail).toMatchObject({ user: 'app', envelopeTo: ['carol@example.com'], envelopeFrom: 'ops@example.com', subject: 'You are invited to join social.example' });

      const wrong = createMailer({ ...config, smtpAuth: { user: 'app', password: 'wrong-one' } })!;
      const error = await sendMail(wrong, { to: { address: 'carol@example.com' }, ...invitationMail({ appUrl: APP, url: 'x', expiresAt: null, uses: 1 }) }).catch((e: unknown) => e);
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
      const sent = await sendAccountDeletedNotice(mailer, { nickname: 'bob', email: 'bob@example.com', name: 'Bob' }, { appUrl: APP, restorableUntil: new Date('2026-06-01T00:00:00Z') });
      expect(sent?.accepted).toEqual(['bob@example.com']);
      const [mail] = await smtp.waitFor(1);
      expect(mail).toMatchObject({ envelopeTo: ['bob@example.com'], subject: 'Your account on social.example was deleted' });
      expect(mail.text).toContain('until then the account can be restored');
    } finally {
      mailer.close();
    }
  });
});
