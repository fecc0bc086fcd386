import { libContext } from '../../helpers/backend';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { tokenOf, type TestSmtp, useTestSmtp } from '../../helpers/smtp';
import { confirmEmail } from '../../../lib/tokens/confirmation';

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

const TOKEN = '[A-Za-z0-9_][A-Za-z0-9_-]{42}';
const NO_MAIL = 'No mail was sent: mail is not configured (set SMTP_URL, or SMTP_HOST); pass the link above on yourself\n';

let smtp: TestSmtp;
useTestSmtp((s) => (smtp = s));

const MAIL_ENV = () => ({ SMTP_URL: smtp.url, MAIL_FROM: 'Example Social <no-reply@social.example>' });
/** ctl with mail configured, through the file's SMTP server. */
const mailCtl = (args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}) =>
  ctl(args, { ...opts, env: { ...MAIL_ENV(), ...opts.env } });
const lib = <T>(fn: (ctx: ReturnType<typeof libContext>) => Promise<T>) => tdb.withDb((h) => fn(libContext(h)));

describe('ctl user send_confirmation, without mail', () => {
  beforeEach(async () => {
    await ctl(['user', 'new', 'alice', 'alice@example.com', '-y', '--password', 'old-password']);
  });

  test('send_confirmation prints a fresh link for an unconfirmed user; a confirmed one needs none', async () => {
    const confirmed = await ctl(['user', 'send_confirmation', 'alice']);
    expect(confirmed).toMatchObject({ code: 0, stdout: "alice doesn't need confirmation.\n", stderr: '' });
    await ctl(['user', 'new', 'dave', 'dave@example.com', '-y', '--no-confirmed', '--password', 'a-good-password']);
    const r = await ctl(['user', 'send-confirmation', 'dave@example.com']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Generated email confirmation token for dave\\nURL: http://ctl\\.test/verify/${TOKEN}\\n$`));
    expect(r.stderr).toBe(NO_MAIL);
    await tdb.withDb((h) => confirmEmail(libContext(h), tokenOf(r.stdout.trim())));
    expect(await ctl(['user', 'send_confirmation', 'nobody'])).toMatchObject({ code: 3, stderr: 'No local user nobody\n' });
  });
});

describe('ctl user send_confirmation, with mail', () => {
  test('send_confirmation mails a confirmation link that confirms the address', async () => {
    await mailCtl(['user', 'new', 'carol', 'carol@example.com', '-y', '--password', 'a-good-password', '--no-confirmed', '--skip-email']);
    const r = await mailCtl(['user', 'send_confirmation', 'carol']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^Generated email confirmation token for carol\\nURL: http://ctl\\.test/verify/${TOKEN}\\nConfirmation link mailed to carol@example.com\\n$`),
    );
    const [mail] = await smtp.waitFor(1);
    expect(mail).toMatchObject({ envelopeTo: ['carol@example.com'], subject: 'Confirm your email address for ctl.test' });
    await lib((ctx) => confirmEmail(ctx, tokenOf(mail.textLinks[0])));
    expect(JSON.parse((await mailCtl(['user', 'show', 'carol', '--json'])).stdout).confirmed).toBe(true);
  });
});
