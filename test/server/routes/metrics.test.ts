import { addUser, loginAs, useTestServer, type TestServer } from '../helpers';

let server: TestServer;
const control = useTestServer((s) => (server = s));

async function signedIn(nickname = 'alice', extra = {}): Promise<{ id: number; token: string }> {
  const id = await addUser(server, { nickname, ...extra });
  return { id, token: await loginAs(server, nickname) };
}

describe('GET /metrics', () => {
  test('Prometheus text with num_active_users and totals', async () => {
    await control.restart();
    await signedIn('alice');
    await addUser(server, { nickname: 'bob', confirmed: false });
    const gone = await addUser(server, { nickname: 'carl' });
    const banned = await addUser(server, { nickname: 'dan' });
    await server.withDb(async (db) => {
      await db.updateTable('users').set({ deleted_at: server.clock, active: false }).where('id', '=', gone).execute();
      await db.updateTable('users').set({ active: false }).where('id', '=', banned).execute();
    });
    const res = await server.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const samples = res.body.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(samples).toEqual([
      'num_active_users 3',
      'num_users{state="active"} 2',
      'num_users{state="deactivated"} 1',
      'num_users{state="deleted"} 1',
      'num_users_logged_in_recently{window="30d"} 1',
      'num_users_unconfirmed 1',
      'num_users_mfa_enabled 0',
      'num_active_sessions 1',
    ]);
    expect(res.body).toContain('# TYPE num_active_users gauge\n');
  });
});
