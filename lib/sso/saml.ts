// SAML 2.0 sign-in (issue 16) through @node-saml/node-saml: this app is the service provider; the
// IdP's response comes back by the HTTP-POST binding, must carry a signed assertion for this
// audience and recipient, within its validity window, and is used once (its assertion ID is kept
// in the database, so every instance refuses a replay). With a decryption key configured, the
// assertion may come encrypted for this app's certificate (signed inside, then encrypted), and
// with CTL_SAML_REQUIRE_ENCRYPTED_ASSERTIONS it must; a second key (CTL_SAML_SP_NEXT_DECRYPTION_KEY_FILE)
// lets the IdP move to a new certificate without a gap.
import { SAML, ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
// node-saml's own XML helpers (its parser settings, its xml-encryption call), for the EncryptedID it leaves alone.
import { decryptXml, parseDomFromString, xpath } from '@node-saml/node-saml/lib/xml';
import { sql } from 'kysely';
import type { LibContext } from '../lib-context';
import type { SamlDecryption, SamlSettings } from './settings';
import { LoginFailedError } from '../auth/login';
import { externalLogin, type ExternalProfile, type ExternalSession, type IdentitySettings } from './identity';

export const SAML_PATH = '/api/auth/saml';

/** This app's entity ID (the audience an assertion must name). */
export function spEntityId(settings: SamlSettings, appUrl: string): string {
  return settings.spEntityId ?? `${appUrl}${SAML_PATH}/metadata`;
}

/**
 * The decryption keys, the rollover's next one first: the metadata lists its certificate first (an
 * IdP that takes the first encryption certificate moves to it), and it is tried first.
 */
function decryptionKeys(settings: SamlSettings): SamlDecryption[] {
  return [settings.nextDecryption, settings.decryption].filter((d): d is SamlDecryption => d !== null);
}

/** One node-saml instance per decryption key (it takes one), or one without a key. */
const instances = new Map<SamlSettings, readonly SAML[]>();

function samlsOf(settings: SamlSettings, appUrl: string): readonly SAML[] {
  let samls = instances.get(settings);
  if (!samls) {
    const entityId = spEntityId(settings, appUrl);
    const keys = decryptionKeys(settings);
    samls = (keys.length > 0 ? keys : [null]).map(
      (key) =>
        new SAML({
          callbackUrl: `${appUrl}${SAML_PATH}/callback`,
          entryPoint: settings.entryPoint,
          issuer: entityId,
          audience: entityId,
          idpCert: settings.idpCert,
          ...(settings.idpIssuer ? { idpIssuer: settings.idpIssuer } : {}),
          wantAssertionsSigned: true,
          wantAuthnResponseSigned: false,
          acceptedClockSkewMs: settings.clockSkewMs,
          // IdP-initiated logins are accepted: the answer is a bearer token in the response body, which
          // a cross-site form post cannot read, so an unsolicited response logs no one in unawares.
          validateInResponseTo: ValidateInResponseTo.never,
          disableRequestedAuthnContext: true,
          signatureAlgorithm: 'sha256',
          identifierFormat: null,
          ...(key ? { decryptionPvk: key.key } : {}),
        }),
    );
    instances.set(settings, samls);
  }
  return samls;
}

const ENCRYPTION_KEY_DESCRIPTOR = /<KeyDescriptor use="encryption">[\s\S]*?<\/KeyDescriptor>/;

/**
 * The SP metadata an IdP administrator imports: entity ID, ACS URL (HTTP-POST), assertions signed,
 * and with a decryption key, its certificate as the one to encrypt assertions for (use="encryption");
 * during a rollover, both certificates, the next one first (node-saml writes one: the second
 * descriptor is node-saml's own for that key, put after the first).
 */
export function samlMetadata(settings: SamlSettings, appUrl: string): string {
  const keys = decryptionKeys(settings);
  const [first, ...others] = samlsOf(settings, appUrl);
  let metadata = first.generateServiceProviderMetadata(keys[0]?.cert ?? null, null);
  for (const [i, saml] of others.entries()) {
    const descriptor = ENCRYPTION_KEY_DESCRIPTOR.exec(saml.generateServiceProviderMetadata(keys[i + 1].cert, null))![0];
    const last = [...metadata.matchAll(new RegExp(ENCRYPTION_KEY_DESCRIPTOR, 'g'))].pop()!;
    const at = last.index + last[0].length;
    const indent = /\n[ \t]*$/.exec(metadata.slice(0, last.index))?.[0] ?? '';
    metadata = `${metadata.slice(0, at)}${indent}${descriptor}${metadata.slice(at)}`;
  }
  return metadata;
}

/** Where to send the browser to log in (HTTP-Redirect binding, an AuthnRequest). */
export function samlLoginUrl(settings: SamlSettings, appUrl: string): Promise<string> {
  return samlsOf(settings, appUrl)[0].getAuthorizeUrlAsync('', undefined, {});
}

function attribute(profile: Profile, name: string): string[] {
  const value = profile[name];
  const values = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return values.filter((v): v is string => typeof v === 'string' && v !== '');
}

interface ParsedAssertion {
  readonly Assertion?: {
    readonly $?: { readonly ID?: string };
    readonly Conditions?: readonly { readonly $?: { readonly NotOnOrAfter?: string } }[];
    readonly Subject?: readonly {
      readonly SubjectConfirmation?: readonly { readonly SubjectConfirmationData?: readonly { readonly $?: { readonly Recipient?: string } }[] }[];
    }[];
  };
}

/**
 * The validated assertion's own ID and end of validity (for the replay record), after checking its
 * recipient, which node-saml leaves unchecked: the bearer confirmation must name this app's ACS,
 * so an assertion issued for another service provider that trusts the same IdP is refused here.
 */
function checkedAssertion(profile: Profile, acs: string): { id: string; notOnOrAfter: Date | null } {
  const assertion = (profile.getAssertion?.() ?? {}) as ParsedAssertion;
  const id = assertion.Assertion?.$?.ID;
  if (!id) throw new LoginFailedError('The SAML response was refused: the assertion has no ID');
  const recipients = (assertion.Assertion?.Subject?.[0]?.SubjectConfirmation ?? []).flatMap((c) =>
    (c.SubjectConfirmationData ?? []).map((d) => d.$?.Recipient),
  );
  if (recipients.length === 0 || recipients.some((r) => r !== acs)) {
    throw new LoginFailedError(`The SAML response was refused: its recipient is not ${acs}`);
  }
  const end = assertion.Assertion?.Conditions?.[0]?.$?.NotOnOrAfter;
  return { id, notOnOrAfter: end ? new Date(end) : null };
}

export function samlProfile(settings: SamlSettings, profile: Profile): ExternalProfile {
  const email = attribute(profile, settings.emailAttribute)[0] ?? (profile.nameIDFormat?.endsWith(':emailAddress') ? profile.nameID : null);
  return {
    provider: 'saml',
    subject: profile.nameID,
    email,
    // The configured IdP is the authority for its users' addresses, as a directory is.
    emailVerified: true,
    username: attribute(profile, settings.usernameAttribute)[0] ?? null,
    name: attribute(profile, settings.nameAttribute)[0] ?? null,
    admin: settings.adminAttribute && settings.adminValue ? attribute(profile, settings.adminAttribute).includes(settings.adminValue) : null,
  };
}

/**
 * A start tag of that local name, any prefix. A name cannot be written with character references
 * and the parser expands no entity of a DTD (xmldom reports it and node-saml refuses the response),
 * so an element node-saml sees is a tag this finds; one inside a comment is found too, which only
 * errs on the side of refusing.
 */
const startTag = (localName: string) => new RegExp(`<(?:[^\\s<>/:!?]+:)?${localName}[\\s/>]`);
const PLAIN_ASSERTION = startTag('Assertion');
const ENCRYPTED_ASSERTION = startTag('EncryptedAssertion');

/**
 * The encryption algorithms decrypted here: the content ones the metadata offers, and RSA-OAEP for
 * the key. Not 3DES nor RSA PKCS#1 v1.5 (Bleichenbacher), which xml-encryption would decrypt
 * (printing a warning on the console), as node-saml does not pass it the options that refuse them.
 */
const DECRYPTED_ALGORITHMS = new Set([
  'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
]);
const ENCRYPTION_METHOD = new RegExp(startTag('EncryptionMethod').source, 'g');
/** A whole start tag as XML writes it: the name, then attributes, each value quoted (it may hold a '>', never a '<'). */
const WHOLE_START_TAG = /<[^\s<>/!?]+((?:\s+[^\s=<>/"']+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*\/?>/;
const ATTRIBUTE = /\s+([^\s=<>/"']+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/g;

/**
 * Whether every EncryptionMethod in the response (xml-encryption reads the algorithm of the first
 * under EncryptedData and under EncryptedKey, any prefix or namespace) is a tag this reads whole
 * with one Algorithm, spelt exactly as one of the algorithms allowed. An allow-list of exact
 * spellings: a character reference in the value (the parser expands it) or a tag read otherwise
 * than the parser reads it only errs on the side of refusing; one in a comment is checked too.
 */
function onlyDecryptedAlgorithms(xml: string): boolean {
  // Sticky, from each tag where it stands (no copy of the rest: a tag ends before the next '<').
  const wholeTag = new RegExp(WHOLE_START_TAG.source, 'y');
  for (const tag of xml.matchAll(ENCRYPTION_METHOD)) {
    wholeTag.lastIndex = tag.index;
    const whole = wholeTag.exec(xml);
    if (!whole) return false;
    const algorithms = [...whole[1].matchAll(ATTRIBUTE)].filter((a) => a[1] === 'Algorithm').map((a) => a[2] ?? a[3]);
    if (algorithms.length !== 1 || !DECRYPTED_ALGORITHMS.has(algorithms[0])) return false;
  }
  return true;
}

/** The one answer for an encrypted assertion that fails before its signature is verified. */
const UNDECRYPTABLE = 'The SAML response was refused: its encrypted assertion could not be decrypted and verified';

const SUBJECT = "/*[local-name()='Assertion']/*[local-name()='Subject']";

/**
 * The subject of a verified assertion as its Subject gives it: 'plain' for a NameID (node-saml read
 * it), the decrypted NameID of an EncryptedID, which node-saml reads not (decrypted with the
 * decryption key, either one during a rollover), or null when the Subject has neither. node-saml
 * fills a missing NameID from an Attribute named `nameID`, whose value the user may control: only
 * the Subject names the subject here. The assertion is the one whose signature was verified, so its
 * ciphertext is the IdP's as signed: its failures are no oracle and name themselves.
 */
async function subjectOf(settings: SamlSettings, assertionXml: string): Promise<{ value: string; format: string | null } | 'plain' | null> {
  const dom = await parseDomFromString(assertionXml);
  const ids = xpath.selectElements(dom, `${SUBJECT}/*[local-name()='EncryptedID']`);
  if (ids.length === 0) return xpath.selectElements(dom, `${SUBJECT}/*[local-name()='NameID']`).length > 0 ? 'plain' : null;
  const refused = (why: string) => new LoginFailedError(`The SAML response was refused: its ${why}`);
  if (ids.length > 1) throw refused('subject has more than one EncryptedID');
  const keys = decryptionKeys(settings);
  if (keys.length === 0) throw refused('subject is encrypted (EncryptedID), and no decryption key is configured');
  // xmldom's element serializes itself, with the namespaces in scope it uses (node-saml does the same).
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the DOM type does not know it
  const encrypted = ids[0].toString();
  if (!onlyDecryptedAlgorithms(encrypted)) throw refused('encrypted subject (EncryptedID) uses an encryption algorithm not accepted');
  for (const key of keys) {
    try {
      const nameIds = xpath.selectElements(await parseDomFromString(await decryptXml(encrypted, key.key)), "/*[local-name()='NameID']");
      const value = nameIds.length === 1 ? nameIds[0].textContent : null;
      if (value) return { value, format: nameIds[0].getAttribute('Format') };
    } catch {
      // Encrypted for the other key, or not decryptable at all.
    }
  }
  throw refused('encrypted subject (EncryptedID) could not be decrypted');
}

/** node-saml's own checks that run only once the assertion's signature is verified (validity window, audience). */
const AFTER_SIGNATURE = /^SAML assertion /;

/**
 * The ACS: validates the response (signature over the assertion with the IdP's certificate only,
 * audience, recipient, NotBefore / NotOnOrAfter within the clock skew, issuer when configured),
 * records the assertion ID until it expires (a second use is refused, by any instance), then
 * hands the profile to the identity core. Any failure is a 401 saying which check failed. An
 * encrypted assertion is decrypted with the configured key first (during a rollover, either key)
 * and then checked the same way; with encryption required, a plain one is refused before anything else.
 */
export async function completeSamlLogin(
  ctx: LibContext,
  settings: SamlSettings,
  identity: IdentitySettings,
  appUrl: string,
  samlResponse: string,
): Promise<ExternalSession> {
  // The bytes node-saml reads (it decodes the form field the same way).
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  // The ciphertext of an encrypted assertion is base64, so a response whose assertion is encrypted
  // holds no Assertion tag at all: any one is a plain assertion, refused before any signature check.
  if (settings.requireEncryptedAssertions && PLAIN_ASSERTION.test(xml)) {
    throw new LoginFailedError('The SAML response was refused: its assertion is not encrypted, and encrypted assertions are required');
  }
  const encrypted = settings.decryption !== null && ENCRYPTED_ASSERTION.test(xml);
  // An insecure algorithm is refused before any decryption, in the words of any other failure (the
  // algorithm is no secret, but one answer is simpler to keep uniform than several).
  if (settings.decryption !== null && !onlyDecryptedAlgorithms(xml)) throw new LoginFailedError(UNDECRYPTABLE);
  let profile: Profile | null = null;
  for (const [i, saml] of samlsOf(settings, appUrl).entries()) {
    try {
      ({ profile } = await saml.validatePostResponseAsync({ SAMLResponse: samlResponse }));
      break;
    } catch (error) {
      const why = error instanceof Error ? error.message.split('\n')[0].slice(0, 200) : 'invalid';
      // Until the IdP's signature inside it is verified, an encrypted assertion fails in one way only:
      // another key, bad CBC padding (xml-encryption's own message), a garbled plaintext and a bad
      // signature read the same, so the answer is no decryption oracle. Timing may still differ a
      // little; the per-address limit keeps such probing to a trickle. During a key rollover such a
      // failure tries the other key, whatever it was: the answer is still this one, after both.
      if (encrypted && !AFTER_SIGNATURE.test(why)) {
        if (i < decryptionKeys(settings).length - 1) continue;
        throw new LoginFailedError(UNDECRYPTABLE);
      }
      throw new LoginFailedError(`The SAML response was refused: ${why}`);
    }
  }
  const assertionXml = profile?.getAssertionXml?.();
  const subject = profile && assertionXml ? await subjectOf(settings, assertionXml) : 'plain';
  if (subject === null) throw new LoginFailedError('The SAML response was refused: it names no subject');
  if (profile && subject !== 'plain') {
    profile.nameID = subject.value;
    if (subject.format) profile.nameIDFormat = subject.format;
  }
  if (!profile?.nameID) throw new LoginFailedError('The SAML response was refused: it names no subject');
  // node-saml's idpIssuer is checked on logout messages only: the signed assertion's issuer is checked here.
  if (settings.idpIssuer !== null && profile.issuer !== settings.idpIssuer) {
    throw new LoginFailedError(`The SAML response was refused: its issuer is not ${settings.idpIssuer}`);
  }
  const { id, notOnOrAfter } = checkedAssertion(profile, `${appUrl}${SAML_PATH}/callback`);
  const now = ctx.now();
  // Kept a skew past its end (it is refused after that anyway), at least a day when it gives none.
  const keepUntil = new Date((notOnOrAfter ?? new Date(now.getTime() + 86400e3)).getTime() + settings.clockSkewMs);
  await ctx.db.deleteFrom('saml_assertions').where('expires_at', '<', now).execute();
  const fresh = await sql<{ assertion_id: string }>`
    INSERT INTO saml_assertions (assertion_id, expires_at) VALUES (${id}, ${keepUntil})
    ON CONFLICT (assertion_id) DO NOTHING RETURNING assertion_id`.execute(ctx.db);
  if (fresh.rows.length === 0) throw new LoginFailedError('The SAML response was refused: this assertion was already used');
  return externalLogin(ctx, identity, samlProfile(settings, profile));
}
