/**
 * The Switchyard gateway Worker: middleware order, route mounts, the one error handler,
 * and the Durable Object classes the runtime needs to find.
 */
import { Hono } from 'hono';
import type { AppEnv } from './config.ts';
import { ApiError } from '../../src/openai/errors.ts';
import { publicCors } from './middleware/cors.ts';
import { requestId } from './middleware/request-id.ts';
import { renderError } from './render-error.ts';
import { adminRoutes } from './routes/admin/index.ts';
import { dashboardRoutes } from './dashboard/index.ts';
import { messageRoutes } from './routes/messages.ts';
import { modelRoutes } from './routes/models.ts';
import { nodeRoutes } from './routes/nodes.ts';
import { openaiRoutes } from './routes/openai.ts';
import { realtimeRoutes } from './routes/realtime.ts';
import { responseRoutes } from './routes/responses.ts';

const app = new Hono<AppEnv>();

app.use('*', requestId());
app.use('*', publicCors());
app.get('/healthz', (c) => c.json({ ok: true }));
app.route('/', modelRoutes);
app.route('/', openaiRoutes);
app.route('/', responseRoutes);
app.route('/', messageRoutes);
app.route('/', realtimeRoutes);
app.route('/', nodeRoutes);
app.route('/', adminRoutes);
app.route('/', dashboardRoutes);

app.notFound((c) =>
  renderError(
    new ApiError(404, `Unknown route: ${c.req.method} ${c.req.path}`, { code: 'route_not_found' }),
    c,
  ),
);
app.onError(renderError);

export default app;

export { ApiKey } from '../objects/api-key.ts';
export { Directory } from '../objects/directory.ts';
export { ModelPool } from '../objects/model-pool.ts';
export { NodeRegistry } from '../objects/node-registry.ts';
export { StoredResponses } from '../objects/stored-responses.ts';
export { TenantUsage } from '../objects/tenant-usage.ts';
