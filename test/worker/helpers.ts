/** Shared steps for the gateway tests: talk to the Worker, seed keys and nodes through the real APIs. */
import { env, exports } from 'cloudflare:workers';
import { inject } from 'vitest';
import type { EngineReport, RegisterResponse } from '../../src/protocol/node-api.ts';
import { apiKey } from '../../workers/objects/stubs.ts';

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
    body: JSON.stringify({ name: 'test-node' }),
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

export interface UsageRowView {
  start: number;
  tenantId: string;
  keyId: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  clientErrors: number;
  rateLimited: number;
  serverErrors: number;
  aborted: number;
}

/** The usage rows the admin API has for a key over its default span (the last day, by hour), as the operator sees them. */
export async function usageOfKey(keyId: string): Promise<UsageRowView[]> {
  const res = await call(`/admin/api/usage?keyId=${encodeURIComponent(keyId)}`, { headers: ADMIN });
  if (res.status !== 200) throw new Error(`usage query failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: UsageRowView[] }).data;
}

/** Sums the usage rows of a key. */
export async function usageTotals(
  keyId: string,
): Promise<Omit<UsageRowView, 'start' | 'tenantId' | 'keyId' | 'model'>> {
  const totals = {
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    clientErrors: 0,
    rateLimited: 0,
    serverErrors: 0,
    aborted: 0,
  };
  for (const row of await usageOfKey(keyId)) {
    for (const name of Object.keys(totals) as Array<keyof typeof totals>) totals[name] += row[name];
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
