/**
 * The dashboard is a client of the admin API and nothing more: every read and every change goes
 * through the admin API's own route handlers (the same scoping, validation, audit entries and
 * errors), called in-process as the signed-in caller. The caller travels with the Request object
 * in a WeakMap only this module reads, so no header can claim it, and this app is mounted on no
 * public path.
 */
import { Hono, type Context } from 'hono';
import { ApiError } from '../../../src/openai/errors.ts';
import type { AppEnv } from '../config.ts';
import type { AdminCaller } from '../middleware/admin-auth.ts';
import { renderError } from '../render-error.ts';
import { fleetRoutes } from '../routes/admin/fleet.ts';
import { keyRoutes } from '../routes/admin/keys.ts';
import { tenantRoutes } from '../routes/admin/tenants.ts';
import { usageRoutes } from '../routes/admin/usage.ts';
import type { DashboardEnv } from './env.ts';

const callers = new WeakMap<Request, { caller: AdminCaller; requestId: string }>();

const api = new Hono<AppEnv>();
api.use('*', async function actAsSignedInCaller(c, next) {
  const call = callers.get(c.req.raw);
  if (!call) throw new ApiError(401, 'Not a dashboard call.', { code: 'invalid_admin_token' });
  c.set('admin', call.caller);
  c.set('requestId', call.requestId);
  await next();
});
api.route('/', tenantRoutes);
api.route('/', keyRoutes);
api.route('/', usageRoutes);
api.route('/', fleetRoutes);
api.onError(renderError);

/** An admin API refusal, as the admin API worded it. */
export class AdminApiError extends Error {
  override name = 'AdminApiError';
  readonly status: number;
  readonly param: string | null;
  readonly code: string | null;

  constructor(status: number, message: string, param: string | null, code: string | null) {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
  }
}

export interface AdminApi {
  get<T>(path: string): Promise<T>;
  send<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** `GET /usage` as CSV: the admin API's own rendering, passed through. */
  csv(path: string): Promise<Response>;
}

export function adminApi(c: Context<DashboardEnv>): AdminApi {
  const call = async (method: string, path: string, body?: unknown, accept = 'application/json') => {
    const request = new Request(`http://admin.internal${path}`, {
      method,
      headers: { accept, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    callers.set(request, { caller: c.get('session').caller, requestId: c.get('requestId') });
    const response = await api.fetch(request, c.env, executionContext(c));
    if (response.ok) return response;
    const { error } = (await response.json()) as {
      error: { message: string; param?: string | null; code?: string | null };
    };
    throw new AdminApiError(response.status, error.message, error.param ?? null, error.code ?? null);
  };
  return {
    get: async (path) => (await call('GET', path)).json(),
    send: async (method, path, body) => (await call(method, path, body)).json(),
    csv: (path) => call('GET', path, undefined, 'text/csv'),
  };
}

function executionContext(c: Context<DashboardEnv>): ExecutionContext | undefined {
  try {
    return c.executionCtx as ExecutionContext;
  } catch {
    return undefined;
  }
}
