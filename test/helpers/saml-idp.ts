import { spawnSync } from 'node:child_process';
import { X509Certificate, constants, type CipherGCM, createCipheriv, publicEncrypt, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as samlify from 'samlify';

/**
 * A SAML identity provider that signs real assertions: samlify in IdP mode, with a key and a
 * self-signed certificate made by openssl for the test run. Each response can be bent the ways an
 * attacker (or a broken IdP) would: another audience, an expired validity, a chosen assertion ID;
 * and its assertion can be encrypted for the certificate the SP's metadata publishes.
 */
export interface SamlUser {
  readonly nameId: string;
  readonly email?: string;
  readonly uid?: string;
  readonly name?: string;
  readonly groups?: readonly string[];
}

export interface ResponseOptions {
  readonly audience?: string;
  readonly recipient?: string;
  /** Validity window of the conditions and subject confirmation. */
  readonly notBefore?: Date;
  readonly notOnOrAfter?: Date;
  readonly assertionId?: string;
  /**
   * Encrypt the (signed) assertion for the SP metadata's encryption certificate, with this content
   * algorithm (the key is sent by RSA-OAEP), as an IdP does for an SP that publishes one.
   */
  readonly encrypt?: keyof typeof DATA_ENCRYPTION;
  /** How the content key is sent with `encrypt`: RSA-OAEP (the default), or the insecure RSA PKCS#1 v1.5 an old IdP may use. */
  readonly keyTransport?: keyof typeof KEY_TRANSPORT;
  /**
   * The subject as an EncryptedID (AES-256-GCM, the key by RSA-OAEP) for the SP metadata's
   * encryption certificate, inside the signed assertion, instead of a plain NameID; or with the
   * insecure 3DES, as an old IdP may.
   */
  readonly encryptNameId?: boolean | 'tripledes-cbc';
  /** No NameID (nor EncryptedID) in the Subject at all. */
  readonly noSubjectNameId?: boolean;
  /** An Attribute named `nameID` with this value (node-saml copies it onto a profile without a NameID). */
  readonly nameIdAttribute?: string;
  /** Another issuer than the IdP's entity ID (the response and the assertion), signed with the same key. */
  readonly issuer?: string;
  /** The assertion namespace's prefix instead of `saml` ('' = the default namespace), as IdPs differ. */
  readonly assertionPrefix?: string;
}

/** A key and a self-signed certificate (PEM files) made by openssl, e.g. an SP's decryption pair. */
export interface KeyPair {
  readonly keyFile: string;
  readonly certFile: string;
  remove(): void;
}

export interface SamlIdp {
  readonly entityId: string;
  readonly ssoUrl: string;
  /** PEM file of the signing certificate (CTL_SAML_IDP_CERT_FILE). */
  readonly certFile: string;
  /** A base64 SAMLResponse (HTTP-POST binding) for the SP described by `spMetadata`, assertion signed. */
  response(spMetadata: string, user: SamlUser, options?: ResponseOptions): Promise<string>;
  remove(): void;
}

// The IdP side never parses XML it did not make here; node-saml, under test, does its own checks.
samlify.setSchemaValidator({ validate: () => Promise.resolve('skipped') });

/** An attribute with one value per tag (samlify's tags are letters only, hence `attrGroupA`, `attrGroupB`...). */
const ATTRIBUTE = (name: string, tags: string | readonly string[]) =>
  `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${[tags]
    .flat()
    .map((tag) => `<saml:AttributeValue xsi:type="xs:string">{${tag}}</saml:AttributeValue>`)
    .join('')}</saml:Attribute>`;
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** The template with `prefix` for the assertion namespace's `saml` ('' makes it the default namespace). */
const withPrefix = (template: string, prefix: string) =>
  template.replace(/(<\/?)saml:/g, prefix ? `$1${prefix}:` : '$1').replace(/xmlns:saml=/g, prefix ? `xmlns:${prefix}=` : 'xmlns=');

const AUTHN =
  '<saml:AuthnStatement AuthnInstant="{AuthnInstant}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>';

/** `xml` as an XML Encryption EncryptedData element for the certificate (base64 body): AES-256-GCM, the key by RSA-OAEP. */
function encryptedData(xml: string, certBody: string, tripledes = false): string {
  const key = randomBytes(tripledes ? 24 : 32);
  const iv = randomBytes(tripledes ? 8 : 12);
  const cipher = createCipheriv(tripledes ? 'des-ede3-cbc' : 'aes-256-gcm', key, iv);
  const data = Buffer.concat([iv, cipher.update(xml, 'utf8'), cipher.final(), tripledes ? Buffer.alloc(0) : (cipher as CipherGCM).getAuthTag()]);
  const algorithm = tripledes ? 'http://www.w3.org/2001/04/xmlenc#tripledes-cbc' : 'http://www.w3.org/2009/xmlenc11#aes256-gcm';
  const publicKey = new X509Certificate(`-----BEGIN CERTIFICATE-----\n${certBody}\n-----END CERTIFICATE-----\n`).publicKey;
  const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, key);
  return (
    '<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">' +
    `<xenc:EncryptionMethod Algorithm="${algorithm}"/>` +
    '<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>' +
    '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>' +
    `<xenc:CipherData><xenc:CipherValue>${wrapped.toString('base64')}</xenc:CipherValue></xenc:CipherData>` +
    '</xenc:EncryptedKey></ds:KeyInfo>' +
    `<xenc:CipherData><xenc:CipherValue>${data.toString('base64')}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>`
  );
}

/** `NAME.key` and `NAME.pem` in `dir`: an RSA key and its self-signed certificate, valid two days. */
function makeKeyPair(dir: string, name: string, subject: string): { keyFile: string; certFile: string } {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.pem`);
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', subject], {
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { keyFile, certFile };
}

export function createKeyPair(subject = '/CN=test-sp'): KeyPair {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-saml-sp-'));
  return { ...makeKeyPair(dir, 'sp', subject), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const DATA_ENCRYPTION = {
  'aes256-cbc': samlify.Constants.algorithms.encryption.data.AES_256,
  // samlify names only the 128-bit GCM; it hands the URI to xml-encryption, which knows this one.
  'aes256-gcm': 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  // Insecure, as an old IdP may still send it (xml-encryption encrypts with it when asked).
  'tripledes-cbc': samlify.Constants.algorithms.encryption.data.TRI_DEC,
} as const;

const KEY_TRANSPORT = {
  'rsa-oaep': samlify.Constants.algorithms.encryption.key.RSA_OAEP_MGF1P,
  'rsa-1_5': samlify.Constants.algorithms.encryption.key.RSA_1_5,
} as const;

/**
 * Runs `encrypt` without xml-encryption's console warning for an insecure algorithm, which it
 * prints when this IdP encrypts with 3DES or RSA-1_5 on purpose (the tests that the app refuses
 * them): the CI log then shows only what the app itself prints. Other warnings pass through.
 */
async function quietInsecureWarning<T>(insecure: boolean, encrypt: () => Promise<T>): Promise<T> {
  if (!insecure) return encrypt();
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!/is no longer recommended due to security reasons/.test(String(args[0]))) warn(...args);
  };
  try {
    return await encrypt();
  } finally {
    console.warn = warn;
  }
}

export function createSamlIdp(entityId = 'https://idp.example.org/metadata'): SamlIdp {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-saml-idp-'));
  const { keyFile, certFile } = makeKeyPair(dir, 'idp', '/CN=test-idp');
  const ssoUrl = 'http://127.0.0.1:9/sso';
  const settings = {
    entityID: entityId,
    privateKey: fs.readFileSync(keyFile, 'utf8'),
    signingCert: fs.readFileSync(certFile, 'utf8'),
    singleSignOnService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: ssoUrl }],
    singleLogoutService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: `${ssoUrl}/logout` }],
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'],
  };
  // One IdP entity per way of answering (samlify reads encryption from the entity's settings).
  const plain = samlify.IdentityProvider({ ...settings, isAssertionEncrypted: false });
  const encrypting = new Map<string, typeof plain>();
  const encryptingWith = (data: keyof typeof DATA_ENCRYPTION, key: keyof typeof KEY_TRANSPORT) => {
    let entity = encrypting.get(`${data} ${key}`);
    if (!entity) {
      // Read at run time from the entity's settings, though samlify's IdP type does not list them.
      entity = samlify.IdentityProvider(
        Object.assign(
          { ...settings, isAssertionEncrypted: true },
          { dataEncryptionAlgorithm: DATA_ENCRYPTION[data], keyEncryptionAlgorithm: KEY_TRANSPORT[key] },
        ),
      );
      encrypting.set(`${data} ${key}`, entity);
    }
    return entity;
  };
  return {
    entityId,
    ssoUrl,
    certFile,
    async response(spMetadata, user, options = {}) {
      const sp = samlify.ServiceProvider({ metadata: spMetadata });
      const acs = /<(?:\w+:)?AssertionConsumerService[^>]*Location="([^"]+)"/.exec(spMetadata)![1];
      const now = new Date();
      const notBefore = options.notBefore ?? new Date(now.getTime() - 1000);
      const notOnOrAfter = options.notOnOrAfter ?? new Date(now.getTime() + 5 * 60e3);
      const attributes = [
        user.email !== undefined ? ATTRIBUTE('email', 'attrEmail') : '',
        user.uid !== undefined ? ATTRIBUTE('uid', 'attrUid') : '',
        user.name !== undefined ? ATTRIBUTE('name', 'attrName') : '',
        user.groups?.length
          ? ATTRIBUTE(
              'groups',
              user.groups.map((_g, i) => `attrGroup${LETTERS[i]}`),
            )
          : '',
        options.nameIdAttribute !== undefined ? ATTRIBUTE('nameID', 'attrNameidattr') : '',
      ].join('');
      const groupTags = Object.fromEntries((user.groups ?? []).map((g, i) => [`attrGroup${LETTERS[i]}`, g]));
      const id = `_${randomUUID()}`;
      const NAME_ID = '<saml:NameID Format="{NameIDFormat}">{NameID}</saml:NameID>';
      let template = samlify.SamlLib.defaultLoginResponseTemplate.context;
      if (options.encryptNameId) {
        const cert = /<KeyDescriptor use="encryption">[\s\S]*?<ds:X509Certificate>([^<]+)</.exec(spMetadata)![1].replace(/\s/g, '');
        const nameId = `<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">${user.nameId}</saml:NameID>`;
        if (!template.includes(NAME_ID)) throw new Error("samlify's response template has no NameID as expected");
        template = template.replace(NAME_ID, `<saml:EncryptedID>${encryptedData(nameId, cert, options.encryptNameId === 'tripledes-cbc')}</saml:EncryptedID>`);
      }
      if (options.noSubjectNameId) {
        if (!template.includes(NAME_ID)) throw new Error("samlify's response template has no NameID as expected");
        template = template.replace(NAME_ID, '');
      }
      const idp = options.encrypt ? encryptingWith(options.encrypt, options.keyTransport ?? 'rsa-oaep') : plain;
      const insecure = options.encrypt === 'tripledes-cbc' || options.keyTransport === 'rsa-1_5';
      const { context } = await quietInsecureWarning(insecure, () =>
        idp.createLoginResponse(sp, null as never, 'post', { email: user.nameId }, () => ({
          id,
          context: samlify.SamlLib.replaceTagsByValue(
            withPrefix(
              template
                .replace('{AttributeStatement}', attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '')
                .replace('{AuthnStatement}', AUTHN.replace('{AuthnInstant}', now.toISOString())),
              options.assertionPrefix ?? 'saml',
            ),
            {
              ID: id,
              AssertionID: options.assertionId ?? `_${randomUUID()}`,
              Destination: acs,
              Audience: options.audience ?? sp.entityMeta.getEntityID(),
              SubjectRecipient: options.recipient ?? acs,
              Issuer: options.issuer ?? entityId,
              IssueInstant: now.toISOString(),
              StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
              ConditionsNotBefore: notBefore.toISOString(),
              ConditionsNotOnOrAfter: notOnOrAfter.toISOString(),
              SubjectConfirmationDataNotOnOrAfter: notOnOrAfter.toISOString(),
              NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
              NameID: user.nameId,
              InResponseTo: '',
              attrEmail: user.email ?? '',
              attrUid: user.uid ?? '',
              attrName: user.name ?? '',
              attrNameidattr: options.nameIdAttribute ?? '',
              ...groupTags,
            },
          ),
        })),
      );
      return context;
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
