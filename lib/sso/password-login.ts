import type { LibContext } from '../lib-context';
import type { SsoSettings } from './settings';
import { login, type AuthSettings, type LoginInput, type LoginThrottle, type Session } from '../auth/login';
import { findUser } from '../user/find';
import { ldapLogin } from './ldap';

/**
 * A login with a password, wherever it is checked: by the directory while LDAP is on (local
 * passwords then stop working, as in Overleaf), else here. The one exception is the break-glass
 * CTL_SSO_LOCAL_ADMIN_LOGIN: a local administrator (provider 'local', with a password) still logs
 * in with their password, so a directory outage or a bad LDAP setting does not lock everyone out.
 */
export async function passwordLogin(
  ctx: LibContext,
  settings: { readonly auth: AuthSettings; readonly sso: SsoSettings },
  throttle: LoginThrottle,
  input: LoginInput,
): Promise<Session> {
  const { ldap } = settings.sso;
  if (!ldap || (settings.sso.localAdminLogin && (await isBreakGlassAdmin(ctx, input.login)))) return login(ctx, settings.auth, throttle, input);
  return ldapLogin(ctx, ldap, { ...settings.sso, ...settings.auth }, throttle, input);
}

async function isBreakGlassAdmin(ctx: LibContext, who: string): Promise<boolean> {
  const user = await findUser(ctx.db, who, { localOnly: true });
  return user !== undefined && user.admin && user.provider === 'local' && user.password_hash !== null;
}
