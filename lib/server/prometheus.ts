import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metrics } from './metric-counts';

/**
 * The Prometheus side of `ctl serve`, through prom-client: the account gauges (set from
 * `collectMetrics` at each scrape, so a scrape costs one query however many gauges there are),
 * Node's process metrics, a request-duration histogram per route, and login outcomes.
 *
 * One registry per server, never prom-client's global one: tests build many servers in one
 * process, and several registries must not share a gauge.
 */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Sets the account gauges from one collection and renders the whole registry. */
  render(counts: Metrics): Promise<string>;
}

/** Routes that end a login attempt; their status is the outcome. */
const LOGIN_ROUTES = new Set(['/api/auth/login', '/api/auth/2fa/verify-temp']);

function loginOutcome(status: number): string {
  if (status === 200) return 'ok';
  if (status === 401) return 'failed';
  if (status === 403) return 'refused';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'overloaded';
  return status >= 500 ? 'error' : 'bad_request';
}

function windowLabel(ms: number): string {
  if (ms % 86400e3 === 0) return `${ms / 86400e3}d`;
  if (ms % 3600e3 === 0) return `${ms / 3600e3}h`;
  return `${Math.round(ms / 1000)}s`;
}

export function instrumentServer(app: FastifyInstance, activeWindowMs: number): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] });
  // Overleaf's name: every local account that is not deleted (what holds a licence, as `ctl user count`).
  const activeUsers = gauge('num_active_users', 'Local accounts that are not deleted (licence count, as ctl user count)');
  const users = gauge('num_users', 'Local accounts by state', ['state']);
  const recent = gauge('num_users_logged_in_recently', 'Local accounts that logged in within the window (CTL_ACTIVE_WINDOW)', ['window']);
  const unconfirmed = gauge('num_users_unconfirmed', 'Local accounts whose email is not confirmed');
  const mfa = gauge('num_users_mfa_enabled', 'Local accounts with two-factor authentication on');
  const sessions = gauge('num_active_sessions', 'Live sessions (access tokens neither revoked nor expired)');

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer a request, by route pattern (never the URL: links carry tokens)',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const logins = new Counter({
    name: 'ctl_login_attempts_total',
    help: 'Login attempts by outcome (ok, failed, refused, rate_limited, overloaded, bad_request, error)',
    labelNames: ['outcome'],
    registers: [registry],
  });

  app.addHook('onResponse', async (request, reply) => {
    // An unmatched URL is one label value, so a scan of random paths cannot grow the series.
    const route = request.routeOptions.url ?? '(no route)';
    duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (LOGIN_ROUTES.has(route)) logins.inc({ outcome: loginOutcome(reply.statusCode) });
  });

  return {
    registry,
    async render(m) {
      activeUsers.set(m.total);
      users.set({ state: 'active' }, m.total - m.deactivated);
      users.set({ state: 'deactivated' }, m.deactivated);
      users.set({ state: 'deleted' }, m.deleted);
      recent.set({ window: windowLabel(activeWindowMs) }, m.activeInWindow);
      unconfirmed.set(m.unconfirmed);
      mfa.set(m.mfaEnabled);
      sessions.set(m.sessions);
      return registry.metrics();
    },
  };
}
