import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { effectiveEnv, loadConfig, parseDotenv } from '../../lib/config';

// Issue 12, bug 6: a quoted .env value followed by a comment kept its quotes (exit 6).
test('a quoted value followed by a comment is the value inside the quotes', () => {
  expect(parseDotenv('DATABASE_URL="postgres://app@db.internal/app"  # prod\n')).toEqual({ DATABASE_URL: 'postgres://app@db.internal/app' });
  expect(parseDotenv("APP_URL='https://example.com'   # the public address\n")).toEqual({ APP_URL: 'https://example.com' });
});

test('comments, blank lines, export, unquoted values with a trailing comment, \\n in double quotes', () => {
  const text = '# settings\n\nexport MAIL_FROM=ops@example.com\nCTL_RETENTION_DAYS=30 # a month\nGREETING="a\\nb"\nHASH="not # a comment"\n';
  expect(parseDotenv(text)).toEqual({ MAIL_FROM: 'ops@example.com', CTL_RETENTION_DAYS: '30', GREETING: 'a\nb', HASH: 'not # a comment' });
});

test('the environment wins over the file; an unset variable takes the file value', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-dotenv-'));
  try {
    const file = path.join(dir, 'app.env');
    fs.writeFileSync(file, 'APP_URL="https://file.example"  # from the file\nMAIL_FROM="file@example.com" # too\n');
    const env = effectiveEnv({ CTL_ENV_FILE: file, APP_URL: 'https://env.example' }, dir);
    expect(env.APP_URL).toBe('https://env.example');
    expect(env.MAIL_FROM).toBe('file@example.com');
    const config = loadConfig({ CTL_ENV_FILE: file });
    expect(config.appUrl).toBe('https://file.example');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
