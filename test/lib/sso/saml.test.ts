import * as fs from 'node:fs';
import { libContext, useOpenTestDatabase } from '../../helpers/backend';
import { seedUser } from '../../helpers/seed-users';
import { createKeyPair, createSamlIdp, type KeyPair, type SamlIdp, type SamlUser } from '../../helpers/saml-idp';
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
    // Another admin, so the revoke does not take the last one (that is refused: identity.test.ts).
    await seedUser(h.db, { nickname: 'root', email: 'root@example.org', admin: true });
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

  test('attack: an assertion signed with the IdP’s key but issued as another entity is refused (CTL_SAML_IDP_ISSUER)', async () => {
    await refused(await idp.response(metadata, ALICE, { issuer: 'https://other-idp.example.org/metadata' }), /issuer/i);
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

describe('SAML 2.0 with encrypted assertions (CTL_SAML_SP_DECRYPTION_KEY_FILE / _CERT_FILE)', () => {
  let spKeys: KeyPair;
  let otherKeys: KeyPair;
  let nextKeys: KeyPair;
  let env: Record<string, string>;
  let decrypting: SamlSettings;
  let requiring: SamlSettings;
  /** The metadata of this app with another decryption certificate: the IdP encrypts for a key this app does not hold. */
  let otherMetadata: string;
  const UNDECRYPTABLE = /^The SAML response was refused: its encrypted assertion could not be decrypted and verified$/;

  beforeAll(() => {
    spKeys = createKeyPair();
    otherKeys = createKeyPair('/CN=someone-else');
    nextKeys = createKeyPair('/CN=test-sp-next');
    env = {
      CTL_SAML_ENTRY_POINT: 'https://idp.example.org/sso',
      CTL_SAML_IDP_CERT_FILE: idp.certFile,
      CTL_SAML_IDP_ISSUER: idp.entityId,
      CTL_SAML_SP_DECRYPTION_KEY_FILE: spKeys.keyFile,
      CTL_SAML_SP_DECRYPTION_CERT_FILE: spKeys.certFile,
    };
    decrypting = ssoSettings(env).saml!;
    requiring = ssoSettings({ ...env, CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS: 'true' }).saml!;
    otherMetadata = samlMetadata(
      ssoSettings({ ...env, CTL_SAML_SP_DECRYPTION_KEY_FILE: otherKeys.keyFile, CTL_SAML_SP_DECRYPTION_CERT_FILE: otherKeys.certFile }).saml!,
      APP,
    );
  });
  afterAll(() => {
    spKeys.remove();
    otherKeys.remove();
    nextKeys.remove();
  });

  const consumeWith = (s: SamlSettings, response: string) => completeSamlLogin(ctx(), s, IDENTITY, APP, response);
  const refusedWith = async (s: SamlSettings, response: string, why: RegExp) => {
    const attempt = consumeWith(s, response);
    await expect(attempt).rejects.toThrow(LoginFailedError);
    await expect(attempt).rejects.toThrow(why);
    expect(await h.db.selectFrom('users').select('nickname').execute()).toEqual([]);
  };
  const certBody = (file: string) => fs.readFileSync(file, 'utf8').replace(/-----[^-]+-----|\s/g, '');

  test('the metadata publishes the decryption certificate for encryption, and still asks for signed assertions', () => {
    const published = samlMetadata(decrypting, APP);
    const descriptor = /<KeyDescriptor use="encryption">[\s\S]*?<\/KeyDescriptor>/.exec(published)?.[0] ?? '';
    expect(descriptor.replace(/\s/g, '')).toContain(`<ds:X509Certificate>${certBody(spKeys.certFile)}</ds:X509Certificate>`);
    expect(descriptor).toContain('Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"');
    expect(published).toContain('WantAssertionsSigned="true"');
    // Without the setting there is no key to publish.
    expect(metadata).not.toContain('KeyDescriptor');
  });

  test.each(['aes256-gcm', 'aes256-cbc'] as const)(
    'an assertion encrypted (%s) for this app logs in: nothing of it readable on the way, the account made just in time',
    async (algorithm) => {
      const response = await idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: algorithm });
      const xml = xmlOf(response);
      expect([/<saml:EncryptedAssertion[\s>]/.test(xml), /<saml:Assertion[\s>]/.test(xml), xml.includes('alice')]).toEqual([true, false, false]);
      expect(await consumeWith(decrypting, response)).toMatchObject({
        outcome: 'created',
        user: { nickname: 'alice', email: 'alice@example.org', name: 'Alice Liddell', provider: 'saml' },
      });
      await expect(consumeWith(decrypting, response)).rejects.toThrow(/already used/);
    },
  );

  test('with the key but without CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS a plain signed assertion still logs in (the IdP switching over)', async () => {
    expect(await consumeWith(decrypting, await idp.response(metadata, ALICE))).toMatchObject({ outcome: 'created', user: { nickname: 'alice' } });
  });

  test('CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS: a plain signed assertion is refused; an encrypted one logs in', async () => {
    await refusedWith(
      requiring,
      await idp.response(metadata, ALICE),
      /^The SAML response was refused: its assertion is not encrypted, and encrypted assertions are required$/,
    );
    const encrypted = await idp.response(samlMetadata(requiring, APP), ALICE, { encrypt: 'aes256-gcm' });
    expect(await consumeWith(requiring, encrypted)).toMatchObject({ outcome: 'created', user: { nickname: 'alice' } });
  });

  test.each(['saml2', 'a1.b-c', ''])(
    'attack: with encryption required, a plain signed assertion under another namespace prefix (%j) is refused too; it is valid otherwise',
    async (prefix) => {
      const response = await idp.response(metadata, ALICE, { assertionPrefix: prefix });
      expect(xmlOf(response)).toContain(`<${prefix ? `${prefix}:` : ''}Assertion `);
      await refusedWith(requiring, response, /not encrypted/);
      expect(await consumeWith(decrypting, response)).toMatchObject({ outcome: 'created', user: { nickname: 'alice' } });
    },
  );

  test('attack: an assertion encrypted for another key is refused, in the same words as a garbled or forged one', async () => {
    await refusedWith(decrypting, await idp.response(otherMetadata, ALICE, { encrypt: 'aes256-gcm' }), UNDECRYPTABLE);
    await refusedWith(requiring, await idp.response(otherMetadata, ALICE, { encrypt: 'aes256-cbc' }), UNDECRYPTABLE);
    // Signed by another IdP's key, then encrypted for this app: decrypts, and its signature fails.
    await refusedWith(decrypting, await rogue.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'aes256-gcm' }), UNDECRYPTABLE);
  });

  test('attack: CBC ciphertext edited (a bad padding, a garbled block) reads the same as any other failure: no padding oracle', async () => {
    const xml = xmlOf(await idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'aes256-cbc' }));
    const values = [...xml.matchAll(/<xenc:CipherValue>([^<]+)<\/xenc:CipherValue>/g)].map((m) => m[1]);
    const data = values[values.length - 1];
    const edited = (at: number) => {
      const bytes = Buffer.from(data, 'base64');
      bytes[at] ^= 0x5a;
      return base64(xml.replace(data, bytes.toString('base64')));
    };
    const bytes = Buffer.from(data, 'base64').length;
    for (const at of [bytes - 17, bytes - 1, 16, 40]) await refusedWith(decrypting, edited(at), UNDECRYPTABLE);
  });

  test('key rollover (CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE / _CERT_FILE): the metadata publishes both certificates, the next first; an assertion encrypted for either logs in', async () => {
    const keys = (pair: KeyPair, prefix = 'CTL_SAML_SP_') => ({
      [`${prefix}DECRYPTION_KEY_FILE`]: pair.keyFile,
      [`${prefix}DECRYPTION_CERT_FILE`]: pair.certFile,
    });
    const rolling = ssoSettings({ ...env, ...keys(nextKeys, 'CTL_SAML_SP_NEXT_') }).saml!;
    const published = samlMetadata(rolling, APP);
    const descriptors = [...published.matchAll(/<KeyDescriptor use="encryption">[\s\S]*?<\/KeyDescriptor>/g)].map((m) => m[0].replace(/\s/g, ''));
    expect(descriptors.map((d) => /<ds:X509Certificate>([^<]*)</.exec(d)?.[1])).toEqual([certBody(nextKeys.certFile), certBody(spKeys.certFile)]);
    expect(descriptors.every((d) => d.includes('Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"'))).toBe(true);
    expect(published).toContain('WantAssertionsSigned="true"');
    // The metadata the IdP had before the rollover, and the one it will have after (the next key alone).
    const before = samlMetadata(decrypting, APP);
    const after = samlMetadata(ssoSettings({ ...env, ...keys(nextKeys) }).saml!, APP);
    // Still no oracle: a third key, a forged signature inside, an edited ciphertext for either key read the same.
    await refusedWith(rolling, await idp.response(otherMetadata, ALICE, { encrypt: 'aes256-cbc' }), UNDECRYPTABLE);
    await refusedWith(rolling, await rogue.response(after, ALICE, { encrypt: 'aes256-gcm' }), UNDECRYPTABLE);
    await refusedWith(rolling, await rogue.response(before, ALICE, { encrypt: 'aes256-gcm' }), UNDECRYPTABLE);
    for (const target of [before, after]) {
      const xml = xmlOf(await idp.response(target, ALICE, { encrypt: 'aes256-cbc' }));
      const data = [...xml.matchAll(/<xenc:CipherValue>([^<]+)<\/xenc:CipherValue>/g)].pop()![1];
      const bytes = Buffer.from(data, 'base64');
      bytes[bytes.length - 1] ^= 0x5a;
      await refusedWith(rolling, base64(xml.replace(data, bytes.toString('base64'))), UNDECRYPTABLE);
    }
    // After the decryption, the checks speak plainly whichever key it took.
    await refusedWith(
      rolling,
      await idp.response(before, ALICE, { encrypt: 'aes256-gcm', audience: 'https://other-app.example.org/metadata' }),
      /audience mismatch/,
    );
    expect(await consumeWith(rolling, await idp.response(before, ALICE, { encrypt: 'aes256-gcm' }))).toMatchObject({ user: { nickname: 'alice' } });
    expect(await consumeWith(rolling, await idp.response(after, ALICE, { encrypt: 'aes256-cbc' }))).toMatchObject({ user: { nickname: 'alice' } });
    expect(await consumeWith(rolling, await idp.response(metadata, ALICE))).toMatchObject({ user: { nickname: 'alice' } });
  });

  describe('attack: an assertion encrypted with an insecure algorithm is refused in the same words, before any decryption, and nothing is printed', () => {
    const TRIPLEDES = 'http://www.w3.org/2001/04/xmlenc#tripledes-cbc';
    const AES256_CBC = 'http://www.w3.org/2001/04/xmlenc#aes256-cbc';
    /** The response with its content algorithm's attribute written as `attribute` (its URI as `uri`). */
    const rewritten = (response: string, uri: string, attribute: string) => {
      const xml = xmlOf(response);
      expect(xml).toContain(`Algorithm="${uri}"`);
      return base64(xml.replace(`Algorithm="${uri}"`, attribute));
    };
    const cases: [string, () => Promise<string>][] = [
      ['3DES content encryption', () => idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'tripledes-cbc' })],
      ['RSA-1_5 key transport', () => idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'aes256-gcm', keyTransport: 'rsa-1_5' })],
      // The URI spelt with a character reference, which the XML parser expands.
      [
        '3DES written with a character reference',
        async () =>
          rewritten(
            await idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'tripledes-cbc' }),
            TRIPLEDES,
            `Algorithm="${TRIPLEDES.replace(/c$/, '&#99;')}"`,
          ),
      ],
      // A good URI inside another attribute's value, the real one after it (an attribute value may hold a '>').
      [
        '3DES behind a decoy attribute',
        async () =>
          rewritten(
            await idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'tripledes-cbc' }),
            TRIPLEDES,
            `x=" Algorithm='${AES256_CBC}' >" Algorithm="${TRIPLEDES}"`,
          ),
      ],
    ];
    test.each(cases)('%s', async (_name, make) => {
      const response = await make();
      const printed = (['log', 'info', 'warn', 'error'] as const).map((level) => jest.spyOn(console, level));
      try {
        await refusedWith(decrypting, response, UNDECRYPTABLE);
        await refusedWith(requiring, response, UNDECRYPTABLE);
        expect(printed.flatMap((spy) => spy.mock.calls)).toEqual([]);
      } finally {
        for (const spy of printed) spy.mockRestore();
      }
    });
  });

  test('an encrypted subject (EncryptedID) in the signed assertion is decrypted with the key, plain or encrypted assertion, either key of a rollover', async () => {
    const rolling = ssoSettings({
      ...env,
      CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE: nextKeys.keyFile,
      CTL_SAML_SP_NEXT_DECRYPTION_CERT_FILE: nextKeys.certFile,
    }).saml!;
    const forNext = samlMetadata(
      ssoSettings({ ...env, CTL_SAML_SP_DECRYPTION_KEY_FILE: nextKeys.keyFile, CTL_SAML_SP_DECRYPTION_CERT_FILE: nextKeys.certFile }).saml!,
      APP,
    );
    const plain = await idp.response(samlMetadata(decrypting, APP), ALICE, { encryptNameId: true });
    expect([/<saml:EncryptedID>/.test(xmlOf(plain)), xmlOf(plain).includes(ALICE.nameId)]).toEqual([true, false]);
    // Decrypted after the signature is verified, so its failures speak plainly.
    await refused(plain, /^The SAML response was refused: its subject is encrypted \(EncryptedID\), and no decryption key is configured$/);
    await refusedWith(
      decrypting,
      await idp.response(forNext, ALICE, { encryptNameId: true }),
      /^The SAML response was refused: its encrypted subject \(EncryptedID\) could not be decrypted$/,
    );
    // 3DES, inside an encrypted assertion (so found only once it is decrypted): refused, nothing printed.
    const printed = (['log', 'info', 'warn', 'error'] as const).map((level) => jest.spyOn(console, level));
    try {
      await refusedWith(
        decrypting,
        await idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'aes256-gcm', encryptNameId: 'tripledes-cbc' }),
        /^The SAML response was refused: its encrypted subject \(EncryptedID\) uses an encryption algorithm not accepted$/,
      );
      expect(printed.flatMap((spy) => spy.mock.calls)).toEqual([]);
    } finally {
      for (const spy of printed) spy.mockRestore();
    }
    const first = await consumeWith(decrypting, plain);
    expect(first).toMatchObject({ outcome: 'created', user: { nickname: 'alice', email: 'alice@example.org' } });
    // The same subject as a plain NameID: the same account.
    for (const response of [
      await idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'aes256-gcm', encryptNameId: true }),
      await idp.response(forNext, ALICE, { encrypt: 'aes256-cbc', encryptNameId: true }),
      await idp.response(samlMetadata(decrypting, APP), ALICE, { encryptNameId: true }),
      await idp.response(metadata, ALICE),
    ]) {
      expect(await consumeWith(rolling, response)).toMatchObject({ outcome: 'existing', user: { id: first.user.id } });
    }
  });

  test('only the Subject names the subject: an Attribute named nameID neither replaces an EncryptedID nor stands in for a missing NameID', async () => {
    // node-saml copies an Attribute named nameID onto a profile whose Subject gave it none, and an
    // attribute's value may be the user's own to set.
    await refused(
      await idp.response(metadata, ALICE, { noSubjectNameId: true, nameIdAttribute: 'mallory@example.org' }),
      /^The SAML response was refused: it names no subject$/,
    );
    const withEncryptedId = await idp.response(samlMetadata(decrypting, APP), ALICE, { encryptNameId: true, nameIdAttribute: 'mallory@example.org' });
    expect(await consumeWith(decrypting, withEncryptedId)).toMatchObject({ outcome: 'created', user: { nickname: 'alice' } });
  });

  test('an encrypted assertion without a decryption key configured is refused, saying so', async () => {
    await refused(await idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'aes256-gcm' }), /No decryption key/);
  });

  test('once decrypted and verified, the usual checks speak plainly: an encrypted assertion for another audience', async () => {
    await refusedWith(
      decrypting,
      await idp.response(samlMetadata(decrypting, APP), ALICE, { encrypt: 'aes256-gcm', audience: 'https://other-app.example.org/metadata' }),
      /audience mismatch/,
    );
  });
});
