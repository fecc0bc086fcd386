import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createOpenTestDatabase, type OpenTestDatabase, type TestDatabase } from '../helpers/backend';
import { holdTestDatabase } from '../helpers/in-process';
import { startServer, type TestServer } from '../server/helpers';

/**
 * The pages behind the links ctl prints, in a real browser: Debian's chromium driven by
 * playwright-core (.ci/run installs it). The server listens on 127.0.0.1 on a free port; the
 * links ctl prints (APP_URL http://ctl.test) are followed on that address.
 */
const CHROMIUM = '/usr/bin/chromium';

let opened: OpenTestDatabase;
let tdb: TestDatabase;
let server: TestServer;
let browser: Browser;
let base: string;
let page: Page;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  opened = await createOpenTestDatabase();
  tdb = holdTestDatabase(opened.tdb, opened.handle);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await opened?.handle.close();
  await opened?.tdb.destroy();
});
beforeEach(async () => {
  await server?.close();
  await tdb.reset();
  server = await startServer(tdb, { CTL_CONFIRMATION_TTL: '1h' });
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
  page = await browser.newPage();
});
afterEach(async () => {
  await page?.close();
});

/** The link ctl printed, on the test server's address. */
function follow(printed: string, kind: 'password_reset' | 'verify' | 'registration'): string {
  const match = new RegExp(`http://ctl\\.test(/${kind}/[A-Za-z0-9_-]{43})`).exec(printed);
  if (!match) throw new Error(`no ${kind} link in:\n${printed}`);
  return `${base}${match[1]}`;
}

async function submit(selector = 'button[type=submit]') {
  await Promise.all([page.waitForEvent('load'), page.click(selector)]);
}

test('new without a password: the printed link sets it in the browser, then the user logs in', async () => {
  const r = await server.ctl(['user', 'new', 'bob', 'bob@example.com', '-y']);
  expect(r.code).toBe(0);
  const link = follow(r.stdout, 'password_reset');

  const first = await page.goto(link);
  expect(first!.status()).toBe(200);
  expect(await page.title()).toBe('Set your password');
  expect(await page.textContent('#nickname')).toBe('bob');

  await page.fill('#password', 'bobs-new-password');
  await page.fill('#confirm_password', 'something-else');
  await submit();
  expect(await page.textContent('#error')).toBe('The two passwords do not match.');

  await page.fill('#password', 'bobs-new-password');
  await page.fill('#confirm_password', 'bobs-new-password');
  await submit();
  expect(await page.textContent('#success')).toBe('Your password has been set. You can now log in as bob.');
  await page.screenshot({ path: path.join(os.tmpdir(), 'userctl-password-set.png') });

  // Log in from the page, as the app's front end would.
  const login = await page.evaluate(async () => {
    const res = await fetch('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: 'bob', password: 'bobs-new-password' }),
    });
    return { status: res.status, body: (await res.json()) as { user: { username: string } } };
  });
  expect(login.status).toBe(200);
  expect(login.body.user.username).toBe('bob');

  // The link is spent.
  const again = await page.goto(link);
  expect(again!.status()).toBe(410);
  expect(await page.textContent('#error')).toBe('This password link was already used, or it was replaced by a newer one or revoked.');
});

test('registration from an invite: the form creates the account; the used-up, revoked and unknown links say so', async () => {
  const r = await server.ctl(['user', 'invite']);
  expect(r.code).toBe(0);
  const link = follow(r.stdout, 'registration');

  expect((await page.goto(link))!.status()).toBe(200);
  expect(await page.title()).toBe('Create your account');
  await page.fill('#username', 'dana');
  // An address the app takes (ctl user new zoe zoë@…) must not be refused by the browser's own check.
  await page.fill('#email', 'zoë@example.com');
  expect(await page.$eval('#email', (e) => (e as HTMLInputElement).validity.valid)).toBe(true);
  await page.fill('#email', 'dana@example.com');
  await page.fill('#name', 'Dana D.');
  await page.fill('#password', 'too-short'.slice(0, 5));
  await page.fill('#confirm_password', 'too-short'.slice(0, 5));
  // The browser's own check (minlength) is bypassed to reach the server's rule.
  await page.$eval('form', (f) => f.setAttribute('novalidate', ''));
  await submit();
  expect(await page.textContent('#error')).toBe('The password is too short: at least 8 characters.');
  expect(await page.inputValue('#username')).toBe('dana');

  await page.fill('#password', 'danas-password');
  await page.fill('#confirm_password', 'danas-password');
  await submit();
  expect(await page.textContent('#success')).toBe('Account dana created.');
  expect(await page.textContent('#nickname')).toBe('dana');
  await page.screenshot({ path: path.join(os.tmpdir(), 'userctl-registered.png') });

  expect((await page.goto(link))!.status()).toBe(410);
  expect(await page.textContent('#error')).toBe('This invitation has already been used.');

  const other = await server.ctl(['user', 'invite']);
  const revokedLink = follow(other.stdout, 'registration');
  expect((await server.ctl(['user', 'revoke_invite', revokedLink.split('/').pop()!])).code).toBe(0);
  expect((await page.goto(revokedLink))!.status()).toBe(410);
  expect(await page.textContent('#error')).toBe('This invitation was revoked.');

  expect((await page.goto(`${base}/registration/${'x'.repeat(43)}`))!.status()).toBe(404);
  expect(await page.textContent('#error')).toBe('This invitation link is not valid. Check that you copied all of it.');

  // An invite for anyone vouches for no address: the account confirms its own.
  const show = await server.ctl(['user', 'show', 'dana', '--json']);
  expect(JSON.parse(show.stdout)).toMatchObject({ nickname: 'dana', name: 'Dana D.', email: 'dana@example.com', confirmed: false });
});

test('email confirmation: opening the link only shows a button; pressing it confirms', async () => {
  const r = await server.ctl(['user', 'new', 'carol', 'carol@example.com', '-y', '--no-confirmed', '--password-stdin'], { input: 'carols-password\n' });
  expect(r.code).toBe(0);
  const link = follow(r.stdout, 'verify');

  expect((await page.goto(link))!.status()).toBe(200);
  expect(await page.textContent('#nickname')).toBe('carol');
  // Merely opening the link (a mail scanner would) confirms nothing.
  await server.database.release();
  expect(JSON.parse((await server.ctl(['user', 'show', 'carol', '--json'])).stdout).confirmed).toBe(false);

  await submit();
  expect(await page.textContent('#success')).toBe('Your email address is confirmed. Thank you, carol.');
  expect(JSON.parse((await server.ctl(['user', 'show', 'carol', '--json'])).stdout).confirmed).toBe(true);

  expect((await page.goto(link))!.status()).toBe(410);
  expect(await page.textContent('#error')).toBe('This confirmation link was already used, or it was replaced by a newer one or revoked.');
});

test('an expired link says it has expired', async () => {
  const r = await server.ctl(['user', 'new', 'erin', 'erin@example.com', '-y', '--no-confirmed', '--password-stdin'], { input: 'erins-password\n' });
  const link = follow(r.stdout, 'verify');
  server.clock = new Date(server.clock.getTime() + 2 * 3600e3);
  expect((await page.goto(link))!.status()).toBe(410);
  expect(await page.textContent('#error')).toBe('This confirmation link has expired.');
  expect(await page.textContent('.hint')).toBe('Ask for a new link from the app, or ask your administrator (ctl user send_confirmation).');
});
