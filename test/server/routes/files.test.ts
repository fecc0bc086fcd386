import { addUser, bearer, loginAs, useTestServer, type TestServer } from '../helpers';

let server: TestServer;
const control = useTestServer((s) => (server = s));

async function signedIn(nickname = 'alice', extra = {}): Promise<{ id: number; token: string }> {
  const id = await addUser(server, { nickname, ...extra });
  return { id, token: await loginAs(server, nickname) };
}

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token?: string, payload?: unknown) =>
  server.app.inject({ method, url, headers: token ? bearer(token) : {}, ...(payload === undefined ? {} : { payload: payload as object }) });

describe('POST /api/files/images/avatar', () => {
  const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 1)]);
  const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), Buffer.alloc(50, 2)]);

  function multipart(content: Buffer, opts: { field?: string; type?: string; filename?: string } = {}) {
    const boundary = '----ctltestboundary';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="${opts.field ?? 'file'}"; filename="${opts.filename ?? 'avatar.png'}"\r\nContent-Type: ${opts.type ?? 'image/png'}\r\n\r\n`;
    return {
      payload: Buffer.concat([Buffer.from(head), content, Buffer.from(`\r\n--${boundary}--\r\n`)]),
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    };
  }

  const upload = (token: string, content: Buffer, opts = {}) => {
    const { payload, headers } = multipart(content, opts);
    return server.app.inject({ method: 'POST', url: '/api/files/images/avatar', headers: { ...headers, ...bearer(token) }, payload });
  };

  test('a PNG is stored, the user points at it, and it is served back byte for byte', async () => {
    await control.restart();
    const { id, token } = await signedIn();
    const res = await upload(token, PNG);
    expect(res.statusCode).toBe(200);
    const png = res.json().url as string;
    expect(png).toMatch(new RegExp(`^/avatars/${id}-[0-9a-f]{32}\\.png$`));
    expect(res.json()).toEqual({ url: png, filepath: png });
    expect((await call('GET', '/api/user', token)).json().avatar).toBe(png);
    const image = await server.app.inject({ method: 'GET', url: png });
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
    expect(image.rawPayload.equals(PNG)).toBe(true);
    // Replaced by a WebP: the old path is gone.
    const webp = (await upload(token, WEBP, { type: 'image/webp', filename: 'a.webp' })).json().url as string;
    expect(webp).toMatch(new RegExp(`^/avatars/${id}-[0-9a-f]{32}\\.webp$`));
    expect((await server.app.inject({ method: 'GET', url: png })).statusCode).toBe(404);
    expect((await server.app.inject({ method: 'GET', url: webp })).headers['content-type']).toBe('image/webp');
  });

  test('the type is read from the content: a script named .png is 415 and nothing is stored', async () => {
    await control.restart();
    const { id, token } = await signedIn();
    const res = await upload(token, Buffer.from('<svg onload="alert(1)"></svg>'), { type: 'image/png' });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({ error: 'Unsupported Media Type', message: 'The avatar must be a PNG, JPEG or WebP image' });
    await server.withDb(async (db) => {
      expect(await db.selectFrom('avatars').select('user_id').execute()).toEqual([]);
      expect((await db.selectFrom('users').select('avatar').where('id', '=', id).executeTakeFirstOrThrow()).avatar).toBeNull();
    });
  });

  test('larger than CTL_AVATAR_MAX_BYTES is 413; no file field or not multipart is 400', async () => {
    await control.restart({ CTL_AVATAR_MAX_BYTES: '2048' });
    const { token } = await signedIn();
    const big = await upload(token, Buffer.concat([PNG, Buffer.alloc(4096)]));
    expect([big.statusCode, big.json()]).toEqual([413, { error: 'Payload Too Large', message: 'The avatar is too large: at most 2048 bytes' }]);
    expect((await upload(token, PNG, { field: 'image' })).statusCode).toBe(400);
    const json = await call('POST', '/api/files/images/avatar', token, { file: 'x' });
    expect([json.statusCode, json.json().message]).toEqual([400, 'Send the image as multipart/form-data, in a field named "file"']);
  });

  test('a multipart body cut short or without its boundary is 400 with the JSON error body, not a 500', async () => {
    await control.restart();
    const { id, token } = await signedIn();
    const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const part = Buffer.concat([Buffer.from('--zz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'), PNG]);
    const send = async (contentType: string) => {
      const res = await fetch(`${base}/api/files/images/avatar`, { method: 'POST', headers: { ...bearer(token), 'content-type': contentType }, body: part });
      return [res.status, res.headers.get('content-type'), ((await res.json()) as { error: string }).error];
    };
    // The closing boundary never comes; then no boundary is named at all.
    expect(await send('multipart/form-data; boundary=zz')).toEqual([400, 'application/json; charset=utf-8', 'Bad Request']);
    expect(await send('multipart/form-data')).toEqual([400, 'application/json; charset=utf-8', 'Bad Request']);
    expect(server.log.filter((line) => line.startsWith('internal error'))).toEqual([]);
    expect(await server.withDb((db) => db.selectFrom('avatars').select('user_id').where('user_id', '=', id).execute())).toEqual([]);
  });
});
