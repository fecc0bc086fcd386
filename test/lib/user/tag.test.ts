import { changeTags, formatTags } from '../../../lib/user/tag';
import { NotFoundError, UsageError } from '../../../lib/errors';
import { useUserFixture } from '../../helpers/user-fixture';

const { ctx, seed, user, audit } = useUserFixture();

describe('tags', () => {
  test('tag: lower-cased, sorted union; untag: difference; one audit row per change', async () => {
    await seed({ nickname: 'alice', tags: ['zeta'] });
    const r = await changeTags(ctx(), 'tag', 'alice', ['Pleroma', 'beta', 'pleroma', ' ZETA ']);
    expect(r).toMatchObject({ nickname: 'alice', tags: ['beta', 'pleroma', 'zeta'], added: ['beta', 'pleroma'], removed: [], changed: true });
    expect((await user('alice')).tags).toEqual(['beta', 'pleroma', 'zeta']);
    const u = await changeTags(ctx(), 'untag', 'alice', ['ZETA', 'missing']);
    expect(u).toMatchObject({ tags: ['beta', 'pleroma'], added: [], removed: ['zeta'], changed: true });
    expect((await user('alice')).tags).toEqual(['beta', 'pleroma']);
    expect((await audit()).map((a) => [a.verb, a.details])).toEqual([
      ['tag', { added: ['beta', 'pleroma'], removed: [], tags: ['beta', 'pleroma', 'zeta'] }],
      ['untag', { added: [], removed: ['zeta'], tags: ['beta', 'pleroma'] }],
    ]);
    expect(formatTags(u.tags)).toBe('["beta", "pleroma"]');
    expect(formatTags([])).toBe('[]');
  });

  test('no change: nothing written, no audit row', async () => {
    await seed({ nickname: 'alice', tags: ['a'] });
    expect((await changeTags(ctx(), 'tag', 'alice', ['A'])).changed).toBe(false);
    expect((await changeTags(ctx(), 'untag', 'alice', ['b'])).changed).toBe(false);
    expect(await audit()).toEqual([]);
  });

  test('remote users can be tagged; a missing one is Pleroma\'s "Could not change user tags for X"', async () => {
    await seed({ nickname: 'bob@remote.example', local: false });
    expect((await changeTags(ctx(), 'tag', 'bob@remote.example', ['spam'])).tags).toEqual(['spam']);
    await expect(changeTags(ctx(), 'tag', 'nobody', ['x'])).rejects.toThrow(new NotFoundError('Could not change user tags for nobody'));
    await expect(changeTags(ctx(), 'untag', 'nobody', ['x'])).rejects.toThrow(new NotFoundError('Could not change user tags for nobody'));
  });

  test('bad tags are exit 2', async () => {
    await seed({ nickname: 'alice' });
    await expect(changeTags(ctx(), 'tag', 'alice', ['two words'])).rejects.toThrow(UsageError);
    await expect(changeTags(ctx(), 'tag', 'alice', ['a,b'])).rejects.toThrow('invalid tag "a,b"');
    await expect(changeTags(ctx(), 'tag', 'alice', [])).rejects.toThrow('name at least one tag');
  });

  test('a dry run returns the would-be tags and writes nothing', async () => {
    await seed({ nickname: 'alice', tags: ['a'] });
    expect((await changeTags(ctx(), 'tag', 'alice', ['b'], { dryRun: true })).tags).toEqual(['a', 'b']);
    expect((await user('alice')).tags).toEqual(['a']);
    expect(await audit()).toEqual([]);
  });
});
