import type { LibContext } from '../lib-context';
import type { SsoSettings } from './settings';
import { AccountRefusedError, login, type AuthSettings, type LoginInput, type LoginThrottle, type Session } from '../auth/login';
import { findUser } from '../user/find';
import { ldapLogin } from './ldap';

/**
 * A login with a password, wherever it is checked: by the directory while LDAP is on, not at all
 * while OpenID Connect or SAML is (local passwords stop working once SSO is on, as in Overleaf), else
 * here. The one exception is the break-glass CTL_SSO_LOCAL_ADMIN_LOGIN: a local administrator
 * (provider 'local', with a password) still logs in with their password, so an outage of the
 * identity provider or a bad setting does not lock everyone out.
 */
export async function passwordLogin(
  ctx: LibContext,
  settings: { readonly auth: AuthSettings; readonly sso: SsoSettings },
  throttle: LoginThrottle,
  input: LoginInput,
): Promise<Session> {
  const { ldap, oidc, saml } = settings.sso;
  if ((!ldap && !oidc && !saml) || (settings.sso.localAdminLogin && (await isBreakGlassAdmin(ctx, input.login))))
    return login(ctx, settings.auth, throttle, input);
  if (ldap) return ldapLogin(ctx, ldap, { ...settings.sso, ...settings.auth }, throttle, input);
  throw new AccountRefusedError(`Passwords are off: sign in through ${oidc ? 'OpenID Connect at /api/auth/oidc/login' : 'SAML at /api/auth/saml/login'}`);
}

async function isBreakGlassAdmin(ctx: LibContext, who: string): Promise<boolean> {
  const user = await findUser(ctx.db, who, { localOnly: true, nicknameWins: false });
  return user !== undefined && user.admin && user.provider === 'local' && user.password_hash !== null;
}
