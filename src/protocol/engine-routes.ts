/**
 * How an engine's served routes are named between the agent and the gateway: `METHOD /path`,
 * with `:name` for a path parameter (`GET /v1/responses/:id`), exactly as the gateway's route
 * tables spell them. The agent reports them per engine (declared by its adapter for the engine's
 * kind); the gateway leases an engine for a route only when the engine serves it. An engine that
 * reports no list is of unknown capability (an older agent, an external server): every route is
 * tried on it, and the engine's own answer says whether it serves it.
 */
import * as z from '../zod-mini.ts';

export const ENGINE_ROUTE_METHODS = ['GET', 'POST', 'DELETE'] as const;
export type EngineRouteMethod = (typeof ENGINE_ROUTE_METHODS)[number];

/** `POST /v1/messages`, `GET /v1/responses/:id`, `GET /v1/realtime` (a WebSocket upgrade). */
export type EngineRoute = `${EngineRouteMethod} /${string}`;

export const EngineRouteSchema = z
  .string()
  .check(
    z.regex(/^(GET|POST|DELETE) \/[A-Za-z0-9_./:-]{0,120}$/, 'expected "METHOD /path"'),
  ) as z.ZodMiniType<EngineRoute>;

/** An engine serves at most this many routes (vLLM, the largest surface, serves about forty). */
export const MAX_ENGINE_ROUTES = 128;

export const EngineRoutesSchema = z.array(EngineRouteSchema).check(z.maxLength(MAX_ENGINE_ROUTES));

export function engineRoute(method: EngineRouteMethod, path: string): EngineRoute {
  return `${method} ${path}` as EngineRoute;
}

/** Whether an engine with these declared routes serves `route`; undeclared (undefined) serves all. */
export function servesRoute(routes: readonly string[] | undefined | null, route: string): boolean {
  return routes === undefined || routes === null || routes.includes(route);
}
