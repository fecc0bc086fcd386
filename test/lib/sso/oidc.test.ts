import { decodeFlow, encodeFlow, oidcProfile } from '../../../lib/sso/oidc';
import { ssoSettings } from '../../../lib/sso/settings';

// The flow itself runs against a real provider in test/server/routes/sso.test.ts (openid-client is
// ESM-only, so the relying party runs there as the real `ctl serve`); these are its pure parts.
const settings = ssoSettings({
  CTL_OIDC_ISSUER: 'https://idp.example.org',
  CTL_OIDC_CLIENT_ID: 'userctl',
  CTL_OIDC_CLIENT_SECRET: 's3cret',
  CTL_OIDC_ADMIN_CLAIM: 'groups',
  CTL_OIDC_ADMIN_VALUE: 'admins',
}).oidc!;

describe('oidcProfile', () => {
  test('maps sub, email, email_verified, preferred_username and name; admin when the claim holds the value', () => {
    expect(
      oidcProfile(settings, { sub: 'u-1', email: 'a@example.org', email_verified: true, preferred_username: 'al', name: 'Al', groups: ['x', 'admins'] }),
    ).toEqual({
      provider: 'oidc',
      subject: 'u-1',
      email: 'a@example.org',
      emailVerified: true,
      username: 'al',
      name: 'Al',
      admin: true,
    });
  });

  test('only a literal true verifies the email; a missing admin claim means not admin; a string claim counts', () => {
    expect(oidcProfile(settings, { sub: 'u-1', email: 'a@example.org', email_verified: 'true' })).toMatchObject({
      emailVerified: false,
      admin: false,
      name: null,
    });
    expect(oidcProfile(settings, { sub: 'u-1', groups: 'admins' }).admin).toBe(true);
    expect(oidcProfile({ ...settings, adminClaim: null, adminValue: null }, { sub: 'u-1', groups: ['admins'] }).admin).toBeNull();
  });
});

describe('the flow cookie', () => {
  test('round-trips, and anything else decodes to no flow', () => {
    const flow = { state: 'a'.repeat(32), nonce: 'b'.repeat(32), codeVerifier: 'c'.repeat(43) };
    expect(decodeFlow(encodeFlow(flow))).toEqual(flow);
    for (const bad of [
      undefined,
      '',
      'not-base64-json',
      Buffer.from('["a","b"]').toString('base64url'),
      Buffer.from('["a;b","bbbbbbbbbbbbbbbbbbbb","cccccccccccccccccccc"]').toString('base64url'),
    ]) {
      expect(decodeFlow(bad)).toBeNull();
    }
  });
});
