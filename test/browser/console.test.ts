import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createOpenTestDatabase, type OpenTestDatabase, type TestDatabase } from '../helpers/backend';
import { holdTestDatabase } from '../helpers/in-process';
import { addUser, startServer, type TestServer } from '../server/helpers';
import { softDeleteUser } from '../../lib/user/rm';

/**
 * The admin console in a real browser (Debian's chromium through playwright-core), on a server
 * listening on 127.0.0.1. Screenshots of each page go to CTL_SCREENSHOT_DIR (docs/console to
 * refresh the README's pictures), else to a scratch folder, so a test run leaves the tree clean.
 */
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = process.env.CTL_SCREENSHOT_DIR ? path.resolve(process.env.CTL_SCREENSHOT_DIR) : path.join(os.tmpdir(), 'userctl-console-screenshots');

let opened: OpenTestDatabase;
let tdb: TestDatabase;
let server: TestServer;
let browser: Browser;
let base: string;
let page: Page;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  opened = await createOpenTestDatabase();
  tdb = holdTestDatabase(opened.tdb, opened.handle);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
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
  server = await startServer(tdb);
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
  page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
});
afterEach(async () => {
  await page?.context().close();
});

async function submit(selector: string) {
  await Promise.all([page.waitForEvent('load'), page.click(selector)]);
}

async function shot(name: string) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(login: string, password = 'correct-horse') {
  await page.goto(`${base}/admin/login`);
  await page.fill('#login', login);
  await page.fill('#password', password);
  await submit('#sign-in');
}

/** Presses Tab until the element with this id has the focus (at most `max` times). */
async function tabTo(id: string, max = 40) {
  for (let i = 0; i < max; i++) {
    if ((await page.evaluate('document.activeElement && document.activeElement.id')) === id) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`#${id} never got the focus`);
}

async function pressAndWait(key: string) {
  await Promise.all([page.waitForEvent('load'), page.keyboard.press(key)]);
}

const show = async (nickname: string) => JSON.parse((await server.ctl(['user', 'show', nickname, '--json'])).stdout);

test('launchpad, sign-in, then search, select and deactivate with the keyboard alone', async () => {
  expect((await page.goto(`${base}/launchpad`))!.status()).toBe(200);
  await page.fill('#nickname', 'root');
  await page.fill('#email', 'root@example.com');
  await page.fill('#password', 'roots-password');
  await shot('launchpad');
  await submit('#create-admin');
  expect(await page.textContent('#success')).toBe('Administrator root created. The launchpad is now closed.');
  expect((await page.goto(`${base}/launchpad`))!.status()).toBe(403);

  await addUser(server, { nickname: 'alice', name: 'Alice Liddell' });
  await addUser(server, { nickname: 'malice', email: 'mal@example.com' });
  await addUser(server, { nickname: 'bob' });

  await page.goto(`${base}/admin/login`);
  await page.fill('#login', 'root');
  await page.fill('#password', 'roots-password');
  await shot('sign-in');
  await submit('#sign-in');
  expect(page.url()).toBe(`${base}/admin/users`);

  // The search box has the focus: type, Enter.
  expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('q');
  await page.keyboard.type('ALICE');
  await pressAndWait('Enter');
  const found = await page.$$eval('#users tbody a', (as) => as.map((a) => a.textContent));
  expect(found).toEqual(['alice', 'malice']);
  await shot('users');

  // Tab to each box, Space ticks it; Tab to the button, Enter.
  await tabTo('select-2');
  await page.keyboard.press('Space');
  await tabTo('select-3');
  await page.keyboard.press('Space');
  await tabTo('bulk-deactivate');
  await pressAndWait('Enter');
  expect(await page.textContent('h1')).toBe('Deactivate 2 users?');
  expect(await page.$$eval('#confirm-list li', (li) => li.map((l) => l.textContent))).toEqual(['alice (alice@example.com)', 'malice (mal@example.com)']);
  await shot('confirm');
  expect((await show('alice')).active).toBe(true);
  await tabTo('confirm');
  await pressAndWait('Enter');
  expect(await page.textContent('h1')).toBe('Deactivate: 2 of 2 done');
  expect((await show('alice')).active).toBe(false);
  expect((await show('malice')).active).toBe(false);
  expect((await show('bob')).active).toBe(true);
});

test("a user's page with the keyboard: edit, make admin, a reset link shown once", async () => {
  await addUser(server, { nickname: 'root', admin: true });
  await addUser(server, { nickname: 'bob', name: 'Bob' });
  await signIn('root');
  await page.goto(`${base}/admin/users/2`);
  await tabTo('name');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Robert Builder');
  await tabTo('save-profile');
  await pressAndWait('Enter');
  expect(await page.textContent('#success')).toBe('Name changed.');
  await tabTo('admin');
  await page.keyboard.press('Space');
  await tabTo('save-flags');
  await pressAndWait('Enter');
  expect(await page.textContent('#success')).toBe('Saved (admin: yes).');
  await submit('#action-reset_password');
  expect(await page.textContent('#reset-url')).toMatch(/^http:\/\/ctl\.test\/password_reset\/[A-Za-z0-9_-]{43}$/);
  await shot('user');
  await page.goto(`${base}/admin/users/2`);
  expect(await page.$('#reset-url')).toBeNull();
  expect(await show('bob')).toMatchObject({ name: 'Robert Builder', admin: true });
  expect(await page.$$eval('#audit tbody tr td:nth-child(3)', (td) => td.map((t) => t.textContent))).toEqual(['reset_password', 'set', 'set', 'new']);
  expect(await page.$$eval('#audit tbody tr td:nth-child(2)', (td) => td.map((t) => t.textContent))).toEqual(['web:root', 'web:root', 'web:root', 'tester']);
});

test("an address the app takes but the browser's type=email does not (zoë@…) blocks neither the launchpad nor a profile", async () => {
  // The server checks addresses by the email rule; the browser's own check of an
  // <input type=email> refuses a non-ASCII local part and kept the form from being sent at all.
  await page.goto(`${base}/launchpad`);
  await page.fill('#nickname', 'root');
  await page.fill('#email', 'zoë@example.com');
  await page.fill('#password', 'roots-password');
  expect(await page.$eval('#email', (e) => (e as HTMLInputElement).validity.valid)).toBe(true);
  await submit('#create-admin');
  expect(await page.textContent('#success')).toBe('Administrator root created. The launchpad is now closed.');
  await addUser(server, { nickname: 'bob', email: 'björn@example.com', name: 'Bob' });
  await signIn('zoë@example.com', 'roots-password');
  await page.goto(`${base}/admin/users/2`);
  await page.fill('#name', 'Björn');
  expect(await page.$eval('#email', (e) => (e as HTMLInputElement).validity.valid)).toBe(true);
  await submit('#save-profile');
  expect(await page.textContent('#success')).toBe('Name changed.');
  expect(await show('bob')).toMatchObject({ name: 'Björn', email: 'björn@example.com' });
});

test('refusals: a non-admin, a form without its CSRF token, an ended session, the last admin', async () => {
  await addUser(server, { nickname: 'root', admin: true });
  await addUser(server, { nickname: 'mod', moderator: true });
  await signIn('mod');
  expect(await page.textContent('#error')).toBe('The console is for administrators only.');
  expect((await page.goto(`${base}/admin/users`))!.url()).toBe(`${base}/admin/login`);

  await signIn('root');
  // The last admin cannot delete itself.
  await page.check('#select-1');
  await submit('#bulk-delete');
  await submit('#confirm');
  expect(await page.textContent('#results [data-outcome="refused"] td:nth-child(2)')).toContain('it is the last active admin');

  // A form whose token was taken out changes nothing.
  await page.goto(`${base}/admin/users`);
  await page.check('#select-2');
  await page.$eval('form[action="/admin/users/bulk"] input[name=_csrf]', (i) => i.remove());
  await submit('#bulk-deactivate');
  expect(await page.textContent('h1')).toBe('Refused');
  expect(await page.textContent('#error')).toContain('CSRF');
  await shot('refused-csrf');

  // ctl user sign_out root: the next page is the sign-in, saying why.
  expect((await server.ctl(['user', 'sign_out', 'root'])).code).toBe(0);
  await page.goto(`${base}/admin/users`);
  expect(page.url()).toBe(`${base}/admin/login?ended=1`);
  expect(await page.textContent('#error')).toBe('Your console session has ended. Sign in again.');

  // Idle past 30 minutes: the same.
  await signIn('root');
  server.clock = new Date(server.clock.getTime() + 31 * 60e3);
  await page.goto(`${base}/admin/licence`);
  expect(page.url()).toBe(`${base}/admin/login?ended=1`);
});

test('deleted users, recover and past the window; register; licence', async () => {
  await addUser(server, { nickname: 'root', admin: true });
  await addUser(server, { nickname: 'bob' });
  await addUser(server, { nickname: 'old' });
  // Deleted on the server's clock (the CLI's is the real one).
  await server.withDb((_db, ctx) => softDeleteUser(ctx, 'old', server.config));
  server.clock = new Date(server.clock.getTime() + 91 * 86400e3);
  await server.withDb((_db, ctx) => softDeleteUser(ctx, 'bob', server.config));
  server.clock = new Date(server.clock.getTime() + 5 * 86400e3);
  await signIn('root');
  await page.goto(`${base}/admin/deleted`);
  expect(await page.$$eval('#deleted tbody tr td:nth-child(4)', (td) => td.map((t) => t.textContent))).toEqual(['85 days', 'past the window']);
  await shot('deleted');
  await submit('#recover-3');
  expect(await page.textContent('#error')).toContain('past the retention window');
  await submit('#recover-2');
  expect(await page.textContent('#success')).toBe('User bob recovered.');

  await page.goto(`${base}/admin/register`);
  await page.fill('#emails', 'dana@example.com, bob@example.com, nope');
  await submit('#register');
  expect(await page.$$eval('#results tbody tr', (tr) => tr.map((t) => t.getAttribute('data-status')))).toEqual(['created', 'exists', 'invalid']);
  await shot('register');

  await page.goto(`${base}/admin/licence`);
  expect(await page.textContent('#total')).toBe('3');
  expect(await page.textContent('#deleted')).toBe('1');
  await shot('licence');
});

/** A page of another origin (the attacker's), on its own loopback port: 127.0.0.1 too, so the same site. */
async function attackerSite(html: string): Promise<{ url: string; close: () => Promise<void> }> {
  const evil = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const { port } = evil.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => evil.close(() => resolve())) };
}

test("a page of another origin can neither post the console's forms nor frame it", async () => {
  await addUser(server, { nickname: 'root', admin: true });
  await addUser(server, { nickname: 'bob' });
  await signIn('root');
  // Same site (127.0.0.1, another port): the SameSite=Strict cookie goes along; the token does not.
  const evil = await attackerSite(`<!doctype html>
    <form id="f" method="post" action="${base}/admin/users/bulk/confirm">
      <input name="action" value="deactivate"><input name="user_2" value="1">
    </form>
    <script>document.getElementById('f').submit()</script>`);
  try {
    // In the admin's own browser, where the session cookie lives: the page posts on load.
    const [response] = await Promise.all([page.waitForResponse((r) => r.url() === `${base}/admin/users/bulk/confirm`), page.goto(evil.url)]);
    expect(response.status()).toBe(403);
    expect((await show('bob')).active).toBe(true);

    const framing = await attackerSite(`<!doctype html><iframe id="frame" src="${base}/admin/users"></iframe>`);
    try {
      // The main frame's load waits for its frames, blocked or not.
      await page.goto(framing.url);
      const frame = page.frames().find((f) => f !== page.mainFrame());
      expect(frame).toBeDefined();
      expect(await frame!.$('#users')).toBeNull();
    } finally {
      await framing.close();
    }
  } finally {
    await evil.close();
  }
});
