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
    const samples = res.body.split('\n').filter((l) => l.startsWith('num_'));
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

  /** The value of one sample line (`name{labels} value`), or undefined when it is absent. */
  function sample(body: string, series: string): number | undefined {
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  }

  test('process metrics, a request-duration histogram per route pattern, and login outcomes', async () => {
    await control.restart();
    const { id } = await signedIn('alice');
    for (const password of ['wrong-1', 'wrong-2']) {
      const res = await server.app.inject({ method: 'POST', url: '/api/auth/login', payload: { login: 'alice', password } });
      expect(res.statusCode).toBe(401);
    }
    await server.app.inject({ method: 'GET', url: `/api/files/avatar/${id}/some-token-like-segment-0123456789` });
    const body = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(body, 'ctl_login_attempts_total{outcome="ok"}')).toBe(1);
    expect(sample(body, 'ctl_login_attempts_total{outcome="failed"}')).toBe(2);
    expect(sample(body, 'http_request_duration_seconds_count{method="POST",route="/api/auth/login",status_code="401"}')).toBe(2);
    expect(sample(body, 'http_request_duration_seconds_count{method="POST",route="/api/auth/login",status_code="200"}')).toBe(1);
    // Node's own: the process is measured, not only the accounts.
    expect(sample(body, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(body).toContain('# TYPE nodejs_heap_size_used_bytes gauge');
    // A URL is never a label: only route patterns appear.
    expect(body).not.toContain('some-token-like-segment');
  });
});
