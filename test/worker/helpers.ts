/** Shared steps for the gateway tests: talk to the Worker, seed keys and nodes through the real APIs. */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { expect, inject, vi } from 'vitest';
import { anthropicErrorTypeForStatus } from '../../src/anthropic/errors.ts';
import type { EngineReport, RegisterResponse } from '../../src/protocol/node-api.ts';
import { emptyRow, USAGE_COUNTERS, type UsageRow } from '../../src/usage/rollup.ts';
import { errorFamilyOf } from '../../workers/gateway/render-error.ts';
import type { NodeRecord, NodeRegistry } from '../../workers/objects/node-registry.ts';
import { apiKey, registry as registryOf } from '../../workers/objects/stubs.ts';

export const ADMIN = { authorization: 'Bearer test-admin-token' };
export const fakeNodeUrl = () => inject('fakeNodeUrl');

export function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`https://gateway.test${path}`, init));
}

export function adminJson(
  method: string,
  path: string,
  body?: unknown,
  auth: Record<string, string> = ADMIN,
) {
  return call(path, {
    method,
    headers: { ...auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function createTenant(name = 'acme', defaults?: Record<string, unknown>): Promise<string> {
  const res = await adminJson('POST', '/admin/api/tenants', { name, ...(defaults ? { defaults } : {}) });
  if (res.status !== 201) throw new Error(`tenant creation failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export interface KeyOptions {
  tenantId?: string;
  kind?: 'api' | 'admin';
  models?: string[] | null;
  limits?: Record<string, number>;
  expiresAt?: number | string | null;
}

/** A new key (in a new tenant unless one is named); returns the full key. */
export async function createApiKey(options: KeyOptions = {}): Promise<string> {
  return (await createKeyRecord(options)).key;
}

export async function createKeyRecord(
  options: KeyOptions = {},
): Promise<{ id: string; key: string; tenantId: string }> {
  const { tenantId = await createTenant(), ...fields } = options;
  const res = await adminJson('POST', `/admin/api/tenants/${tenantId}/keys`, { name: 'test', ...fields });
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; key: string; tenantId: string };
}

export async function createNodeToken(): Promise<string> {
  const res = await call('/admin/api/node-tokens', {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'test-node', models: ['*'] }),
  });
  return ((await res.json()) as { token: string }).token;
}

/** A ready engine report for `engineId` serving `model`. */
export function engine(engineId: string, model: string, overrides: Partial<EngineReport> = {}): EngineReport {
  return {
    id: engineId,
    kind: 'sim',
    model,
    state: 'ready',
    load: { running: 0, waiting: 0, kvCacheUsage: 0 },
    maxConcurrency: 8,
    restarts: 0,
    lastLogLines: [],
    ...overrides,
  };
}

let nodeCounter = 0;

export async function registerNode(engines: EngineReport[], url = fakeNodeUrl()): Promise<RegisterResponse> {
  const res = await call('/nodes/register', {
    method: 'POST',
    headers: { authorization: `Bearer ${await createNodeToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `node-${++nodeCounter}`, url, engines }),
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as RegisterResponse;
}

export function heartbeat(node: RegisterResponse, engines: EngineReport[]): Promise<Response> {
  return call('/nodes/heartbeat', {
    method: 'POST',
    headers: { authorization: `Bearer ${node.credential}`, 'content-type': 'application/json' },
    body: JSON.stringify({ engines }),
  });
}

export function chat(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call('/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
}

export async function fakeNodeLog(): Promise<
  Array<{
    method?: string;
    path: string;
    engine: string;
    headers: Record<string, string>;
    bodyBytes: number;
    bodySha256: string;
    json: Record<string, unknown> | null;
    callerGone: boolean;
  }>
> {
  return (await fetch(`${fakeNodeUrl()}/__log`)).json();
}

export async function poolSnapshot(
  model: string,
): Promise<Array<{ engineId: string; inflight: number; available: boolean }>> {
  const res = await call(`/admin/api/pools/${encodeURIComponent(model)}`, { headers: ADMIN });
  return (
    (await res.json()) as { engines: Array<{ engineId: string; inflight: number; available: boolean }> }
  ).engines;
}

/** Waits for every lease on `model`'s engines to come back (a call's return rides along for ms). */
export async function expectLeasesBack(model: string): Promise<void> {
  await vi.waitFor(async () => {
    for (const engine of await poolSnapshot(model)) expect(engine.inflight, engine.engineId).toBe(0);
  });
}

let modelCounter = 0;
/** A model name no other test uses, so pools never overlap. */
export const uniqueModel = (label: string) => `${label}-${++modelCounter}-${crypto.randomUUID().slice(0, 8)}`;

/** What the fake node has seen of requests naming `model`: in flight now, most at once, arrived. */
export async function fakeNodeLoad(
  model: string,
): Promise<{ current: number; peak: number; arrived: number }> {
  return (await fetch(`${fakeNodeUrl()}/__inflight?model=${encodeURIComponent(model)}`)).json();
}

/** Lets every request parked by a `hold` engine for `model` be answered. */
export async function releaseHeld(model: string): Promise<number> {
  const res = await fetch(`${fakeNodeUrl()}/__release?model=${encodeURIComponent(model)}`, {
    method: 'POST',
  });
  return ((await res.json()) as { released: number }).released;
}

/** A chat call whose body is exactly `body` (so its size, and the gateway's prompt estimate, are known). */
export function rawChat(
  key: string,
  body: string,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
) {
  return call('/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
    signal,
  });
}

export interface OpenAIError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export async function errorOf(res: Response): Promise<OpenAIError['error']> {
  return ((await res.json()) as OpenAIError).error;
}

/** A usage row as the admin API answers it: the core's row with its tenant. */
export type UsageRowView = UsageRow & { tenantId: string };

/** The usage rows the admin API has for a key over its default span (the last day, by hour), as the operator sees them. */
export async function usageOfKey(keyId: string): Promise<UsageRowView[]> {
  const res = await call(`/admin/api/usage?keyId=${encodeURIComponent(keyId)}`, { headers: ADMIN });
  if (res.status !== 200) throw new Error(`usage query failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: UsageRowView[] }).data;
}

/** Sums the usage rows of a key, counter by counter. */
export async function usageTotals(keyId: string): Promise<UsageRow> {
  const totals = emptyRow(0, keyId, '');
  for (const row of await usageOfKey(keyId)) {
    for (const name of USAGE_COUNTERS) totals[name] += row[name];
  }
  return totals;
}

/** Open reservations (concurrency slots) of a key, from its own object. */
export function keyInflight(keyId: string): Promise<number> {
  return apiKey(env, keyId).inflight();
}

/**
 * Registers a node and keeps it healthy with a heartbeat every 250 ms (the test config marks a
 * silent node unhealthy after 1 s) until `stop()` is called.
 */
export async function registerLiveNode(
  engines: EngineReport[],
): Promise<{ node: RegisterResponse; stop: () => Promise<void> }> {
  const node = await registerNode(engines);
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (running) await heartbeat(node, engines);
    }
  })();
  return {
    node,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * Settles `promise` within `ms`, or throws naming `what`: the fuzz and matrix tests bound every
 * call, so a request the gateway never answers fails the test instead of stalling it.
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A response read to its end: status, headers and text. */
export interface ReadResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** Sends a request and reads the whole answer, within `ms`. */
export function callAndRead(path: string, init: RequestInit = {}, ms = 10_000): Promise<ReadResponse> {
  return within(
    ms,
    `${init.method ?? 'GET'} ${path.slice(0, 120)}`,
    (async () => {
      const res = await call(path, init);
      return { status: res.status, headers: res.headers, text: await res.text() };
    })(),
  );
}

const ERROR_TYPES_FOR_STATUS: Record<number, string[]> = {
  401: ['authentication_error'],
  403: ['permission_error'],
  404: ['not_found_error'],
  429: ['rate_limit_error', 'insufficient_quota'],
};

/**
 * What is wrong with `res` as a refusal from the gateway itself: it must be a 4xx, JSON, shaped
 * `{"error":{"message","type","param","code"}}` with the type OpenAI uses for the status, marked
 * `x-switchyard-error-source: gateway` and carrying a request id. Empty when it is all of that.
 */
export function gatewayRefusalProblems(res: ReadResponse): string[] {
  const problems: string[] = [];
  if (res.status < 400 || res.status > 499) problems.push(`status ${res.status}, not a 4xx`);
  if (!(res.headers.get('content-type') ?? '').startsWith('application/json')) {
    problems.push(`content-type ${res.headers.get('content-type')}`);
  }
  if (res.headers.get('x-switchyard-error-source') !== 'gateway') {
    problems.push(`x-switchyard-error-source ${res.headers.get('x-switchyard-error-source')}`);
  }
  if (!res.headers.get('x-request-id')) problems.push('no x-request-id');
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return [...problems, `body is not JSON: ${res.text.slice(0, 200)}`];
  }
  const outer = body as { error?: Record<string, unknown> };
  const error = outer?.error;
  if (typeof outer !== 'object' || outer === null || Object.keys(outer).join() !== 'error' || !error) {
    return [...problems, `body is not {"error":…}: ${res.text.slice(0, 200)}`];
  }
  const keys = Object.keys(error).sort().join();
  if (keys !== 'code,message,param,type') problems.push(`error has the fields ${keys}`);
  if (typeof error.message !== 'string' || error.message.length === 0) problems.push('no message');
  if (typeof error.type !== 'string') problems.push('no type');
  const types = ERROR_TYPES_FOR_STATUS[res.status] ?? ['invalid_request_error'];
  if (!types.includes(String(error.type))) problems.push(`type ${String(error.type)} for ${res.status}`);
  if (error.param !== null && typeof error.param !== 'string') problems.push('param neither string nor null');
  if (error.code !== null && typeof error.code !== 'string') problems.push('code neither string nor null');
  return problems;
}

/**
 * What is wrong with `res` as a refusal from the gateway itself on the Anthropic Messages routes:
 * a 4xx, JSON, shaped `{"type":"error","error":{"type","message"}}` with Anthropic's type for the
 * status, marked as the gateway's and carrying a request id. Empty when it is all of that.
 */
export function anthropicRefusalProblems(res: ReadResponse): string[] {
  const problems: string[] = [];
  if (res.status < 400 || res.status > 499) problems.push(`status ${res.status}, not a 4xx`);
  if (!(res.headers.get('content-type') ?? '').startsWith('application/json')) {
    problems.push(`content-type ${res.headers.get('content-type')}`);
  }
  if (res.headers.get('x-switchyard-error-source') !== 'gateway') {
    problems.push(`x-switchyard-error-source ${res.headers.get('x-switchyard-error-source')}`);
  }
  if (!res.headers.get('x-request-id')) problems.push('no x-request-id');
  let body: { type?: unknown; error?: Record<string, unknown> };
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    return [...problems, `body is not JSON: ${res.text.slice(0, 200)}`];
  }
  if (
    Object.keys(body ?? {})
      .sort()
      .join() !== 'error,type' ||
    body.type !== 'error' ||
    !body.error
  ) {
    return [...problems, `body is not {"type":"error","error":…}: ${res.text.slice(0, 200)}`];
  }
  if (Object.keys(body.error).sort().join() !== 'message,type') problems.push('error is not {type, message}');
  if (body.error.type !== anthropicErrorTypeForStatus(res.status)) {
    problems.push(`type ${String(body.error.type)} for ${res.status}`);
  }
  if (typeof body.error.message !== 'string' || body.error.message.length === 0) problems.push('no message');
  return problems;
}

/** `assertGatewayRefusal` in the shape of the clients of `path`'s route family (render-error.ts). */
export function assertGatewayRefusalFor(path: string, res: ReadResponse, what: string): void {
  if (errorFamilyOf(path) === 'openai') return assertGatewayRefusal(res, what);
  const problems = anthropicRefusalProblems(res);
  if (problems.length > 0) {
    throw new Error(`${what} → ${res.status}: ${problems.join('; ')}\n${res.text.slice(0, 300)}`);
  }
}

/** Throws, naming the request, when `res` is not a gateway refusal (see `gatewayRefusalProblems`). */
export function assertGatewayRefusal(res: ReadResponse, what: string): void {
  const problems = gatewayRefusalProblems(res);
  if (problems.length > 0) {
    throw new Error(`${what} → ${res.status}: ${problems.join('; ')}\n${res.text.slice(0, 300)}`);
  }
}

/**
 * Everything the admin API can change, as the operator reads it: tenants with their keys, node
 * tokens and the audit log. Two snapshots are equal when nothing was written in between. (Nodes
 * come and go on their own as heartbeats stop: see `nodeIds`.)
 */
export async function writableState(): Promise<unknown> {
  const tenants = await adminList('/admin/api/tenants');
  const keys = await Promise.all(
    tenants.map((tenant) => adminList(`/admin/api/tenants/${String(tenant.id)}/keys`)),
  );
  return {
    tenants,
    keys: keys.map((list) => list.map(({ lastUsedAt: _used, ...key }) => key)),
    nodeTokens: await adminList('/admin/api/node-tokens'),
    audit: await adminList('/admin/api/audit?limit=1000'),
  };
}

/** The ids of the nodes the registry knows now. */
export async function nodeIds(): Promise<string[]> {
  return (await adminList('/admin/api/nodes')).map((node) => String(node.id));
}

async function adminList(path: string): Promise<Array<Record<string, unknown>>> {
  const res = await call(path, { headers: ADMIN });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: Array<Record<string, unknown>> }).data;
}

/**
 * Keeps `engines` served for as long as a test needs, whatever it does to the isolate: a
 * heartbeat every 250 ms, and — when a long stretch of work starved the heartbeats until the
 * registry evicted the node (NODE_EVICT_AFTER_MS in the test config) — a new registration. `ready()` waits until
 * a pick would find an engine, for a test that is about to need one.
 */
export async function serveEngines(
  engines: EngineReport[],
): Promise<{ ready: () => Promise<void>; stop: () => Promise<void> }> {
  let node = await registerNode(engines);
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (!running) break;
      if ((await heartbeat(node, engines)).status === 401) node = await registerNode(engines);
    }
  })();
  const models = [...new Set(engines.map((e) => e.model))];
  return {
    ready: () =>
      vi.waitFor(
        async () => {
          for (const model of models) {
            const res = await call(`/admin/api/pools/${encodeURIComponent(model)}`, { headers: ADMIN });
            const pool = (await res.json()) as { engines?: Array<{ available: boolean }> };
            if (!pool.engines?.some((e) => e.available)) throw new Error(`${model} has no engine yet`);
          }
        },
        { timeout: 5_000, interval: 50 },
      ),
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Moves a node's last heartbeat `ms` into the past, as if it had been silent that long. */
export async function backdateHeartbeat(nodeId: string, ms: number): Promise<void> {
  await runInDurableObject(registryOf(env), (instance: NodeRegistry) => {
    const nodes = (instance as unknown as { nodes: Map<string, NodeRecord> }).nodes;
    nodes.get(nodeId)!.lastSeenAt -= ms;
  });
}

/** The registry judges a node silent past NODE_UNHEALTHY_AFTER_MS (10 s in the test config) now. */
export async function silenceNode(nodeId: string): Promise<void> {
  await backdateHeartbeat(nodeId, 10_100);
  await runDurableObjectAlarm(registryOf(env));
}
