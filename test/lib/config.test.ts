import { BATCH_GROWTH_LIMIT, loadConfig } from '../../lib/config';
import { UnavailableError } from '../../lib/errors';

const env = (extra: Record<string, string>) => ({ CTL_ENV_FILE: '', ...extra });

describe('batch sizing', () => {
  test('without CTL_BATCH_SIZE batches start at 5000 and may grow to the growth limit', () => {
    const config = loadConfig({ CTL_ENV_FILE: '' });
    expect(config.batchSize).toBe(5000);
    expect(config.maxBatchSize).toBe(BATCH_GROWTH_LIMIT);
    expect(BATCH_GROWTH_LIMIT).toBeGreaterThan(5000);
  });

  test('CTL_BATCH_SIZE fixes the size: batches never grow past it', () => {
    expect(loadConfig({ CTL_ENV_FILE: '', CTL_BATCH_SIZE: '250' })).toMatchObject({ batchSize: 250, maxBatchSize: 250 });
    expect(loadConfig({ CTL_ENV_FILE: '', CTL_BATCH_SIZE: '500000' })).toMatchObject({ batchSize: 500000, maxBatchSize: 500000 });
  });
});

test('an empty CTL_DATA_DIR is exit 6 when the embedded database is in use, never .ctl-data in its place', () => {
  expect(() => loadConfig(env({ CTL_DATA_DIR: '' }))).toThrow(
    new UnavailableError('CTL_DATA_DIR is set but empty: give the embedded database directory, or unset it to use .ctl-data in the project'),
  );
  // With a server it is not used, so not in the way.
  expect(loadConfig(env({ CTL_DATA_DIR: '', DATABASE_URL: 'postgres://127.0.0.1/x' })).databaseUrl).toBe('postgres://127.0.0.1/x');
});

describe('mail settings', () => {
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

  test('a long bad value is repeated up to 100 characters, as a typed argument is (lib/text.ts clipInput)', () => {
    expect(() => loadConfig(env({ SMTP_HOST: 'mail.example', SMTP_PORT: 'x'.repeat(5000) }))).toThrow(
      new UnavailableError(`SMTP_PORT has a bad value "${'x'.repeat(99)}…": not a whole number`),
    );
  });
});

describe('CTL_TRUST_PROXY', () => {
  test('off by default; a hop count, or a list of addresses and CIDR ranges, as Fastify takes them', () => {
    const trust = (value?: string) => loadConfig(env(value === undefined ? {} : { CTL_TRUST_PROXY: value })).serve.trustProxy;
    expect(trust()).toBe(false);
    expect(trust('off')).toBe(false);
    expect(trust('0')).toBe(false);
    expect(trust('1')).toBe(1);
    expect(trust('2')).toBe(2);
    expect(trust('10.0.0.1, 10.1.0.0/16,::1,fd00::/8')).toEqual(['10.0.0.1', '10.1.0.0/16', '::1', 'fd00::/8']);
  });

  test.each(['true', 'TRUE', 'yes', '*', '10.0.0.0/33', '10.0.0.1,', 'fd00::/129', '10.0.0.1/8/8', '21'])('%j is refused (exit 6)', (value) => {
    expect(() => loadConfig(env({ CTL_TRUST_PROXY: value }))).toThrow(UnavailableError);
  });
});
