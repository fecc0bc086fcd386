import type { FastifyInstance } from 'fastify';
import type { AppState } from '../state';
import { collectMetrics } from '../metric-counts';
import { instrumentServer } from '../prometheus';

/** GET /metrics: Prometheus text format, as Overleaf's (`num_active_users`), plus process and request metrics. */
export function metricsRoutes(app: FastifyInstance, state: AppState): void {
  const metrics = instrumentServer(app, state.config.serve.activeWindowMs);
  app.get('/metrics', async (request, reply) => {
    const counts = await collectMetrics(await state.db(request), state.now(), state.config.serve.activeWindowMs);
    const text = await metrics.render(counts);
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });
}
