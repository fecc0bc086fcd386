import { ctl, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { closedPort } from '../../helpers/smtp';

// Issue 12, bug 8: `send_confirmation alice --skip-email` was `Unknown arguments`, although every
// other mailing verb takes it.
let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

test('--skip-email prints the link and mails nothing, even with a mail server that is down', async () => {
  const env = { SMTP_URL: `smtp://127.0.0.1:${await closedPort()}` };
  expect(
    (
      await ctl(tdb, ['user', 'new', 'alice', 'alice@example.com', '--no-confirmed', '--password-stdin', '-y', '--skip-email'], {
        input: 'a-long-password\n',
        env,
      })
    ).code,
  ).toBe(0);
  const r = await ctl(tdb, ['user', 'send_confirmation', 'alice', '--skip-email'], { env });
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/^Generated email confirmation token for alice\nURL: http:\/\/ctl\.test\/\S+\n$/);
  expect(r.code).toBe(0);
  const json = await ctl(tdb, ['user', 'send_confirmation', 'alice', '--skip-email', '--json'], { env });
  expect(JSON.parse(json.stdout)).toMatchObject({ nickname: 'alice', confirmed: false, mail: [] });
  // Without it, the same server is tried and its failure reported: the flag is what skipped it.
  expect((await ctl(tdb, ['user', 'send_confirmation', 'alice'], { env })).code).toBe(7);
});
