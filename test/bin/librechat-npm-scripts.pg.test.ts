import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/backend';
import { ROOT, ctlEnv, type CtlResult } from '../helpers/cli';

// Issue 12: LibreChat's `npm run <script>` names, as package scripts with their positional forms.
let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.destroy());

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** Runs a package script's command line as npm would (without npm: it adds nothing but time). */
function script(name: string, args: readonly string[]): Promise<CtlResult> {
  const [node, file, ...fixed] = (pkg.scripts[name] as string).split(' ');
  expect(node).toBe('node');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, file), ...fixed, ...args], { env: ctlEnv(tdb), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test('create-user, list-users, reset-password, user-stats, invite-user, ban-user, delete-user', async () => {
  const created = await script('create-user', ['grace@example.com', 'Grace Hopper', 'grace', '-y']);
  expect(created.stdout).toContain('User grace created');
  expect(created.code).toBe(0);
  expect(JSON.parse((await script('list-users', ['--json'])).stdout)).toMatchObject([{ nickname: 'grace', name: 'Grace Hopper' }]);
  const reset = await script('reset-password', ['grace@example.com', 'NewSecurePass123']);
  expect(reset.stdout).toBe('Password of grace changed; 0 sessions signed out\n');
  expect(reset.stderr).toContain('warning: --password is visible');
  expect(JSON.parse((await script('user-stats', ['grace@example.com', '--json'])).stdout)).toMatchObject({ nickname: 'grace' });
  const invite = await script('invite-user', ['jane@example.com', 'Jane Doe', '--json']);
  expect(invite.code).toBe(0);
  expect(JSON.parse(invite.stdout)).toMatchObject({ email: 'jane@example.com', name: 'Jane Doe' });
  expect((await script('ban-user', ['grace@example.com'])).stdout).toContain('Successfully deactivated grace');
  expect((await script('delete-user', ['grace@example.com'])).stdout).toContain('User grace deleted.');
});
