/** What every route handler gets: the simulator's shared state and the call it answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultInjector } from './fault-injector.ts';
import type { SimOptions } from './options.ts';
import type { ResponseIdentity } from './routes/chat-shapes.ts';
import type { InteractiveSessions } from './routes/interactive-sessions.ts';
import type { ResponseStore } from './routes/response-store.ts';
import type { SimEngine } from './sim-engine.ts';

export interface SimContext {
  options: SimOptions;
  engine: SimEngine;
  faults: FaultInjector;
  identity: ResponseIdentity;
  startedAt: number;
  /** Stored Responses API objects (what `previous_response_id` continues from). */
  responses: ResponseStore;
  /** LMDeploy `/v1/chat/interactive` sessions and their history. */
  sessions: InteractiveSessions;
  /** Aborted when the simulator closes: work that outlives its HTTP request listens to it. */
  closing: AbortSignal;
}

export interface RouteCall {
  request: IncomingMessage;
  response: ServerResponse;
  /** Aborted when the client disconnects or the simulator closes. */
  signal: AbortSignal;
  /** Path parameters, e.g. `id` in `/v1/responses/:id`. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON, a FormData for multipart routes, undefined for routes without a body. */
  body: unknown;
}

export type RouteHandler = (context: SimContext, call: RouteCall) => Promise<void>;
