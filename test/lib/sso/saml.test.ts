import { libContext, useOpenTestDatabase } from '../../helpers/backend';
import { createSamlIdp, type SamlIdp, type SamlUser } from '../../helpers/saml-idp';
import type { DbHandle } from '../../../lib/db/db';
import { completeSamlLogin, samlMetadata } from '../../../lib/sso/saml';
import { ssoSettings, type SamlSettings } from '../../../lib/sso/settings';
import { AccountRefusedError, LoginFailedError } from '../../../lib/auth/login';

let h: DbHandle;
useOpenTestDatabase((_tdb, handle) => (h = handle));

const APP = 'http://ctl.test';
const IDENTITY = { emailLinking: 'link' as const, updateNamesOnLogin: false, requireConfirmation: false, sessionTtlMs: 3600e3 };
const ALICE: SamlUser = { nameId: 'alice-0001', email: 'alice@example.org', uid: 'alice', name: 'Alice Liddell', groups: ['staff', 'admins'] };
let idp: SamlIdp;
let rogue: SamlIdp;
let settings: SamlSettings;
let metadata: string;

beforeAll(() => {
  idp = createSamlIdp();
  rogue = createSamlIdp();
  settings = ssoSettings({
    CTL_SAML_ENTRY_POINT: 'https://idp.example.org/sso',
    CTL_SAML_IDP_CERT_FILE: idp.certFile,
    CTL_SAML_IDP_ISSUER: idp.entityId,
    CTL_SAML_ADMIN_ATTRIBUTE: 'groups',
    CTL_SAML_ADMIN_VALUE: 'admins',
  }).saml!;
  metadata = samlMetadata(settings, APP);
});
afterAll(() => {
  idp.remove();
  rogue.remove();
});

const ctx = () => libContext(h);
const consume = (response: string) => completeSamlLogin(ctx(), settings, IDENTITY, APP, response);
const xmlOf = (response: string) => Buffer.from(response, 'base64').toString('utf8');
const base64 = (xml: string) => Buffer.from(xml).toString('base64');
const refused = async (response: string, why: RegExp) => {
  const attempt = consume(response);
  await expect(attempt).rejects.toThrow(LoginFailedError);
  await expect(attempt).rejects.toThrow(why);
  expect(await h.db.selectFrom('users').select('nickname').execute()).toEqual([]);
};

describe('SAML 2.0 against a samlify IdP', () => {
  test('the SP metadata names the entity, the ACS (HTTP-POST) and asks for signed assertions', () => {
    expect(metadata).toContain('entityID="http://ctl.test/api/auth/saml/metadata"');
    expect(metadata).toContain('Location="http://ctl.test/api/auth/saml/callback"');
    expect(metadata).toContain('WantAssertionsSigned="true"');
  });

  test('a signed assertion logs in: the account is made just in time, admin from the attribute, then revoked through it', async () => {
    const first = await consume(await idp.response(metadata, ALICE));
    expect(first).toMatchObject({
      outcome: 'created',
      user: { nickname: 'alice', email: 'alice@example.org', name: 'Alice Liddell', admin: true, provider: 'saml' },
    });
    const again = await consume(await idp.response(metadata, { ...ALICE, groups: ['staff'] }));
    expect(again).toMatchObject({ outcome: 'existing', user: { id: first.user.id, admin: false } });
  });

  test('attack: a replayed assertion is refused, the ID being kept in the database', async () => {
    const response = await idp.response(metadata, ALICE);
    await consume(response);
    await expect(consume(response)).rejects.toThrow(/already used/);
    expect(await h.db.selectFrom('saml_assertions').select('assertion_id').execute()).toHaveLength(1);
  });

  test('attack: an expired assertion is refused; one just past its end, within the clock skew, is not', async () => {
    await refused(
      await idp.response(metadata, ALICE, { notOnOrAfter: new Date(Date.now() - 2 * 60e3), notBefore: new Date(Date.now() - 10 * 60e3) }),
      /expired|NotOnOrAfter/i,
    );
    const late = await consume(await idp.response(metadata, ALICE, { notOnOrAfter: new Date(Date.now() - 20e3), notBefore: new Date(Date.now() - 10 * 60e3) }));
    expect(late.user.nickname).toBe('alice');
  });

  test('attack: an assertion for another audience is refused', async () => {
    await refused(await idp.response(metadata, ALICE, { audience: 'https://other-app.example.org/metadata' }), /audience/i);
  });

  test('attack: an assertion for another recipient (another SP of the same IdP) is refused', async () => {
    await refused(await idp.response(metadata, ALICE, { recipient: 'https://other-app.example.org/acs' }), /recipient/);
  });

  test('attack: an unsigned response is refused', async () => {
    const xml = xmlOf(await idp.response(metadata, ALICE));
    const unsigned = xml.replace(/<(\w+:)?Signature[\s\S]*?<\/(\w+:)?Signature>/g, '');
    expect(unsigned).not.toBe(xml);
    await refused(base64(unsigned), /signature|signed/i);
  });

  test('attack: a response signed by another key is refused', async () => {
    await refused(await rogue.response(metadata, ALICE), /signature/i);
  });

  test('attack: signature wrapping: an unsigned assertion in front of the signed one, or an edited signed one, is refused', async () => {
    const xml = xmlOf(await idp.response(metadata, { ...ALICE, groups: [] }));
    const signed = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
    const evil = signed
      .replace(/<(\w+:)?Signature[\s\S]*?<\/(\w+:)?Signature>/, '')
      .replace(/ID="[^"]+"/, 'ID="_evil"')
      .replace(/>alice-0001</, '>root-0001<')
      .replace(
        '<saml:AttributeStatement>',
        '<saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue>admins</saml:AttributeValue></saml:Attribute>',
      );
    await refused(base64(xml.replace(signed, evil + signed)), /multiple assertions/);
    await refused(base64(xml.replace(signed, signed + evil)), /multiple assertions/);
    await refused(base64(xml.replace('>alice-0001<', '>root-0001<')), /signature/i);
  });

  test('attack: a deactivated account is refused although the IdP vouches for it', async () => {
    const { user } = await consume(await idp.response(metadata, ALICE));
    await h.db.updateTable('users').set({ active: false }).where('id', '=', user.id).execute();
    await expect(consume(await idp.response(metadata, ALICE))).rejects.toThrow(AccountRefusedError);
  });
});
