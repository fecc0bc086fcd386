import type { FastifyInstance } from 'fastify';
import type { AppState } from '../state';
import { collectMetrics, renderMetrics } from '../metric-counts';

/** GET /metrics: Prometheus text format, as Overleaf's (`num_active_users`), plus totals. */
export function metricsRoutes(app: FastifyInstance, state: AppState): void {
  app.get('/metrics', async (request, reply) => {
    const metrics = await collectMetrics(await state.db(request), state.now(), state.config.serve.activeWindowMs);
    return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(metrics, state.config.serve.activeWindowMs));
  });
}
