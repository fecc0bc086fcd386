// SAML 2.0 sign-in (issue 16) through @node-saml/node-saml: this app is the service provider; the
// IdP's response comes back by the HTTP-POST binding, must carry a signed assertion for this
// audience and recipient, within its validity window, and is used once (its assertion ID is kept
// in the database, so every instance refuses a replay).
import { SAML, ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import { sql } from 'kysely';
import type { LibContext } from '../lib-context';
import type { SamlSettings } from './settings';
import { LoginFailedError } from '../auth/login';
import { externalLogin, type ExternalProfile, type ExternalSession, type IdentitySettings } from './identity';

export const SAML_PATH = '/api/auth/saml';

/** This app's entity ID (the audience an assertion must name). */
export function spEntityId(settings: SamlSettings, appUrl: string): string {
  return settings.spEntityId ?? `${appUrl}${SAML_PATH}/metadata`;
}

const instances = new Map<SamlSettings, SAML>();

function samlOf(settings: SamlSettings, appUrl: string): SAML {
  let saml = instances.get(settings);
  if (!saml) {
    const entityId = spEntityId(settings, appUrl);
    saml = new SAML({
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
    });
    instances.set(settings, saml);
  }
  return saml;
}

/** The SP metadata an IdP administrator imports: entity ID, ACS URL (HTTP-POST), assertions signed. */
export function samlMetadata(settings: SamlSettings, appUrl: string): string {
  return samlOf(settings, appUrl).generateServiceProviderMetadata(null, null);
}

/** Where to send the browser to log in (HTTP-Redirect binding, an AuthnRequest). */
export function samlLoginUrl(settings: SamlSettings, appUrl: string): Promise<string> {
  return samlOf(settings, appUrl).getAuthorizeUrlAsync('', undefined, {});
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
 * The ACS: validates the response (signature over the assertion with the IdP's certificate only,
 * audience, recipient, NotBefore / NotOnOrAfter within the clock skew, issuer when configured),
 * records the assertion ID until it expires (a second use is refused, by any instance), then
 * hands the profile to the identity core. Any failure is a 401 saying which check failed.
 */
export async function completeSamlLogin(
  ctx: LibContext,
  settings: SamlSettings,
  identity: IdentitySettings,
  appUrl: string,
  samlResponse: string,
): Promise<ExternalSession> {
  let profile: Profile | null;
  try {
    ({ profile } = await samlOf(settings, appUrl).validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (error) {
    throw new LoginFailedError(`The SAML response was refused: ${error instanceof Error ? error.message.split('\n')[0].slice(0, 200) : 'invalid'}`);
  }
  if (!profile?.nameID) throw new LoginFailedError('The SAML response was refused: it names no subject');
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
