// --help of every command: usage and an example, without touching the database.
import { ctl as run } from '../../helpers/in-process';

describe('ctl user --help', () => {
  test('ctl user --help lists every verb without touching the database', async () => {
    const r = await run(null, ['user', '--help'], { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
    expect(r.code).toBe(0);
    for (const verb of ['new', 'list', 'show', 'rm', 'deactivate_all_from_instance', 'revoke_invite']) expect(r.stdout).toContain(`ctl user ${verb}`);
  });
});

describe('--help of every verb', () => {
  test('every verb has --help with an example', async () => {
    for (const verb of ['new', 'list', 'show']) {
      const r = await run(null, ['user', verb, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
    }
  });

  test('every verb of this part has usage and an example', async () => {
    for (const args of [
      ['user', 'set'],
      ['user', 'tag'],
      ['user', 'untag'],
      ['user', 'confirm'],
      ['user', 'confirm_all'],
      ['user', 'unconfirm_all'],
      ['user', 'reset_mfa'],
      ['user', 'count'],
      ['audit', 'list'],
    ]) {
      const r = await run(null, [...args, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(args[0] === 'audit' ? 'ctl audit <action>' : `ctl ${args.join(' ')}`);
      expect(r.stdout).toContain('Examples:');
    }
  });

  test.each([
    ['activate', 'ctl user activate alice'],
    ['unban', 'ctl user unban alice@example.com'],
    ['deactivate', 'ctl user deactivate alice'],
    ['ban', 'ctl user ban spammer@remote.example'],
    ['sign_out', 'ctl user sign_out alice'],
    ['delete_activities', 'ctl user delete_activities alice'],
    ['deactivate_all_from_instance', 'ctl user deactivate_all_from_instance spam.example'],
    ['restore', 'ctl user restore alice'],
    ['purge_deleted', 'ctl user purge_deleted -y'],
  ])('%s --help shows an example', async (verb, example) => {
    const r = await run(null, ['user', verb, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain(example);
  });

  test('--help shows the usage and examples', async () => {
    const r = await run(null, ['user', 'rm', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ctl user rm <user>');
    expect(r.stdout).toContain('--purge');
    expect(r.stdout).toMatch(/Examples:\n\s+ctl user rm alice /);
  });
});
