/** Shared steps for the gateway tests: talk to the Worker, seed keys and nodes through the real APIs. */
import { exports } from 'cloudflare:workers';
import { inject } from 'vitest';
import type { EngineReport, RegisterResponse } from '../../src/protocol/node-api.ts';

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
