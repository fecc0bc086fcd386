import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { ctl as run, useHeldTestDatabase, type HeldTestDatabase } from '../../helpers/in-process';
import { createKeyPair } from '../../helpers/saml-idp';

// Settings from the environment and the .env file: a bad one is exit 6 naming it.

let tdb: HeldTestDatabase;
useHeldTestDatabase((d) => (tdb = d));

const ctl = (args: string[], opts = {}) => run(tdb, args, opts);

describe('settings', () => {
  test('an unreachable database is exit 6 with one line and no password in it', async () => {
    const r = await run(null, ['user', 'list'], { env: { DATABASE_URL: 'postgres://admin:hunter2@127.0.0.1:1/app' } });
    expect(r.code).toBe(6);
    expect(r.stderr).toBe('cannot reach the database at postgres://admin:***@127.0.0.1:1/app: connect ECONNREFUSED 127.0.0.1:1\n');
  });

  test('a bad setting is exit 6 naming the variable, before anything else', async () => {
    const r = await ctl(['user', 'list'], { env: { APP_URL: 'not a url' } });
    expect(r).toMatchObject({ code: 6, stderr: 'APP_URL has a bad value "not a url": not a URL\n' });
    const port = await ctl(['user', 'list'], { env: { DATABASE_URL: 'postgres://h:99999/db' } });
    expect(port.code).toBe(6);
    expect(port.stderr).toMatch(/^DATABASE_URL has a bad value/);
  });

  test('a DATABASE_URL whose password has an unencoded @ is exit 6 naming the variable, without any part of the password (issue 13, finding 4)', async () => {
    const value = 'postgres://postgres:Sup3r@SECRETPART#PW@127.0.0.1:5432/x';
    for (const env of [{ DATABASE_URL: value }, { DATABASE_URL: value.replace('#', '/') }, { DATABASE_URL: value.replace('#', '?') }]) {
      const r = await run(null, ['user', 'list'], { env });
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/^DATABASE_URL has a bad value "postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/x": the host is not what follows the last '@'/);
      for (const secret of ['SECRETPART', 'Sup3r', 'PW']) expect(r.stderr + r.stdout).not.toContain(secret);
    }
    const served = await run(null, ['serve'], { env: { DATABASE_URL: value } });
    expect(served.code).toBe(6);
    expect(served.stderr + served.stdout).not.toContain('SECRETPART');
    // Percent-encoded, the same password is a good setting (here: an unreachable database, exit 6 without it).
    const encoded = await run(null, ['user', 'list'], { env: { DATABASE_URL: 'postgres://postgres:Sup3r%40SECRETPART%23PW@127.0.0.1:1/x' } });
    expect(encoded).toMatchObject({
      code: 6,
      stderr: 'cannot reach the database at postgres://postgres:***@127.0.0.1:1/x: connect ECONNREFUSED 127.0.0.1:1\n',
    });
  });

  test('CTL_TRUST_PROXY=true (trust every proxy) is exit 6 at start-up, saying what to write instead; a hop count or addresses are good (issue 13, finding 6)', async () => {
    const help = 'give the number of proxies in front of ctl serve (e.g. 1) or their addresses (e.g. 127.0.0.1,10.0.0.0/8)';
    for (const value of ['true', 'on', 'all']) {
      const r = await ctl(['serve'], { env: { CTL_TRUST_PROXY: value } });
      expect(r).toMatchObject({
        code: 6,
        stdout: '',
        stderr: `CTL_TRUST_PROXY has a bad value "${value}": trusting every proxy lets a client choose its own address; ${help}\n`,
      });
    }
    const list = await ctl(['serve'], { env: { CTL_TRUST_PROXY: '127.0.0.1,proxy.example' } });
    expect(list).toMatchObject({
      code: 6,
      stderr: `CTL_TRUST_PROXY has a bad value "127.0.0.1,proxy.example": "proxy.example" is not an address or CIDR range; ${help}\n`,
    });
    const hops = await ctl(['serve'], { env: { CTL_TRUST_PROXY: '99' } });
    expect(hops).toMatchObject({ code: 6, stderr: 'CTL_TRUST_PROXY has a bad value "99": must be between 1 and 20\n' });
    for (const value of ['1', '2', '127.0.0.1', '10.0.0.0/8, ::1, fd00::/8', 'false', '']) {
      const r = await ctl(['user', 'list'], { env: { CTL_TRUST_PROXY: value } });
      expect(r).toMatchObject({ code: 0, stderr: '' });
    }
  });

  test('ctl serve with a SAML decryption key it cannot use is exit 6 at start-up, one line naming the variable, before any login', async () => {
    const sp = createKeyPair();
    const idp = createKeyPair('/CN=test-idp');
    const saml = {
      CTL_SAML_ENTRY_POINT: 'https://idp.example.org/sso',
      CTL_SAML_IDP_CERT_FILE: idp.certFile,
      CTL_SAML_SP_DECRYPTION_KEY_FILE: sp.keyFile,
      CTL_SAML_SP_DECRYPTION_CERT_FILE: sp.certFile,
    };
    const dir = path.dirname(sp.keyFile);
    const unreadable = await ctl(['serve'], { env: { ...saml, CTL_SAML_SP_DECRYPTION_KEY_FILE: dir } });
    expect(unreadable).toEqual({
      code: 6,
      signal: null,
      stdout: '',
      stderr: `CTL_SAML_SP_DECRYPTION_KEY_FILE has a bad value ${JSON.stringify(dir)}: cannot be read\n`,
    });
    const otherKey = await ctl(['serve'], { env: { ...saml, CTL_SAML_SP_DECRYPTION_KEY_FILE: idp.keyFile } });
    expect(otherKey).toMatchObject({
      code: 6,
      stdout: '',
      stderr: `CTL_SAML_SP_DECRYPTION_CERT_FILE has a bad value ${JSON.stringify(sp.certFile)}: not the certificate of the key in CTL_SAML_SP_DECRYPTION_KEY_FILE\n`,
    });
    const half = await ctl(['serve'], { env: { ...saml, CTL_SAML_SP_DECRYPTION_CERT_FILE: '' } });
    expect(half).toMatchObject({
      code: 6,
      stderr: 'CTL_SAML_SP_DECRYPTION_KEY_FILE and CTL_SAML_SP_DECRYPTION_CERT_FILE go together: set both or neither\n',
    });
    // So is a rollover key that is not its certificate's.
    const next = { CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE: idp.keyFile, CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE: sp.certFile };
    expect(await ctl(['serve'], { env: { ...saml, ...next } })).toEqual({
      code: 6,
      signal: null,
      stdout: '',
      stderr: `CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE has a bad value ${JSON.stringify(sp.certFile)}: not the certificate of the key in CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE\n`,
    });
    // The pair itself is a good setting, and so is a second pair beside it.
    expect(await ctl(['user', 'list'], { env: saml })).toMatchObject({ code: 0, stderr: '' });
    expect(await ctl(['user', 'list'], { env: { ...saml, ...next, CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE: idp.certFile } })).toMatchObject({
      code: 0,
      stderr: '',
    });
    sp.remove();
    idp.remove();
  });

  test('settings come from the .env file when the environment lacks them, and the environment wins', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-env-'));
    const file = path.join(dir, '.env');
    fs.writeFileSync(file, 'APP_URL=http://from-file.test\n# comment\n');
    const r = await ctl(['user', 'new', 'erin', 'erin@example.com', '-y'], { env: { CTL_ENV_FILE: file, APP_URL: undefined } });
    expect(r.stdout).toContain('URL: http://from-file.test/password_reset/');
    const r2 = await ctl(['user', 'new', 'fred', 'fred@example.com', '-y'], { env: { CTL_ENV_FILE: file, APP_URL: 'http://from-env.test' } });
    expect(r2.stdout).toContain('URL: http://from-env.test/password_reset/');
    fs.rmSync(dir, { recursive: true });
  });

  test('a line of the .env file that is not NAME=value is exit 6 naming its number, not its text; a multi-line quoted value is fine', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-env-'));
    const file = path.join(dir, '.env');
    // util.parseEnv joined the note to the next name ("a note\nAPP_URL"): APP_URL was silently lost
    // (so is a DATABASE_URL after such a line: ctl then used the embedded database).
    for (const [text, line] of [
      ['# settings\nSMTP_FROM=x\nkeep this secret-ish note\nAPP_URL=http://from-file.test\n', 3],
      ['APP_URL=http://from-file.test\nDATABASE_URL postgres://db.example/app\n', 2],
    ] as const) {
      fs.writeFileSync(file, text);
      const r = await ctl(['user', 'new', 'erin', 'erin@example.com', '-y'], { env: { CTL_ENV_FILE: file, APP_URL: undefined } });
      expect(r).toMatchObject({
        code: 6,
        stdout: '',
        stderr: `the settings file ${file} has a line that is not NAME=value: line ${line} (a comment starts with #)\n`,
      });
    }
    expect(await tdb.withDb(({ db }) => db.selectFrom('users').select('id').execute())).toEqual([]);
    // A file CTL_ENV_FILE names that is not there is a bad setting, not "no settings file".
    const missing = await ctl(['user', 'new', 'erin', 'erin@example.com', '-y'], { env: { CTL_ENV_FILE: `${file}.prod`, APP_URL: undefined } });
    expect(missing).toMatchObject({ code: 6, stdout: '', stderr: `CTL_ENV_FILE names a file that cannot be read: ${file}.prod (ENOENT)\n` });
    fs.writeFileSync(file, 'OTHER_APP_KEY="-----BEGIN KEY-----\nnot a setting\n-----END KEY-----"\nexport APP_URL = http://from-file.test\n');
    const ok = await ctl(['user', 'new', 'erin', 'erin@example.com', '-y'], { env: { CTL_ENV_FILE: file, APP_URL: undefined } });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('URL: http://from-file.test/password_reset/');
    fs.rmSync(dir, { recursive: true });
  });
});
