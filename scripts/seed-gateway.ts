/**
 * Talks to the freshly started gateway: waits for it, seeds the demo tenant's key and a node
 * token through the admin API on first start, and waits until the agent's models are listed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { LocalState } from './local-state.ts';
import { StartError } from './start-error.ts';

const CreatedTenantSchema = z.object({ id: z.string() });
const CreatedKeySchema = z.object({ id: z.string(), key: z.string() });
const CreatedNodeTokenSchema = z.object({ id: z.string(), token: z.string() });
const ModelListSchema = z.object({ data: z.array(z.object({ id: z.string() })) });

export const DEMO_TENANT_REQUEST = { name: 'demo' };
export const DEMO_KEY_REQUEST = { name: 'demo' };
/** The local agent's token: this machine's own simulators, whatever models they are given. */
export const NODE_TOKEN_REQUEST = { name: 'local-node', owner: 'local', models: ['*'] };

export async function waitForHealthy(gatewayUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${gatewayUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new StartError(
    `the gateway's GET /healthz did not answer 200 within ${timeoutMs} ms (last: ${last})`,
  );
}

/** True when the gateway still knows the key (its Durable Object storage was not wiped). */
async function keyWorks(gatewayUrl: string, key: string): Promise<boolean> {
  const response = await fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  if (response.status === 200) return true;
  if (response.status === 401) return false;
  throw new StartError(
    `GET /v1/models with the demo key answered HTTP ${response.status}: ${await response.text()}`,
  );
}

async function adminPost<T>(
  gatewayUrl: string,
  adminToken: string,
  route: string,
  body: unknown,
  schema: z.ZodType<T>,
): Promise<T> {
  const response = await fetch(`${gatewayUrl}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 201)
    throw new StartError(`POST ${route} answered HTTP ${response.status}: ${text}`);
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new StartError(`POST ${route} answered an unexpected body: ${text}`);
  return parsed.data;
}

export interface SeedResult {
  state: LocalState & Required<Pick<LocalState, 'demoKey' | 'nodeToken'>>;
  seeded: boolean;
}

export async function ensureSeeded(
  gatewayUrl: string,
  adminToken: string,
  state: LocalState,
): Promise<SeedResult> {
  const { demoKey, nodeToken } = state;
  if (demoKey && nodeToken && (await keyWorks(gatewayUrl, demoKey.key))) {
    return { state: { ...state, demoKey, nodeToken }, seeded: false };
  }
  const tenant = await adminPost(
    gatewayUrl,
    adminToken,
    '/admin/api/tenants',
    DEMO_TENANT_REQUEST,
    CreatedTenantSchema,
  );
  const key = await adminPost(
    gatewayUrl,
    adminToken,
    `/admin/api/tenants/${tenant.id}/keys`,
    DEMO_KEY_REQUEST,
    CreatedKeySchema,
  );
  const token = await adminPost(
    gatewayUrl,
    adminToken,
    '/admin/api/node-tokens',
    NODE_TOKEN_REQUEST,
    CreatedNodeTokenSchema,
  );
  return {
    state: {
      ...state,
      demoKey: { id: key.id, key: key.key },
      nodeToken: { id: token.id, token: token.token },
    },
    seeded: true,
  };
}

/** Polls GET /v1/models until every id is listed; `onProgress` hears each change. */
export async function waitForModels(
  gatewayUrl: string,
  apiKey: string,
  modelIds: string[],
  timeoutMs: number,
  onProgress: (listed: string[]) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reported = '';
  while (Date.now() < deadline) {
    const listed = await listModels(gatewayUrl, apiKey);
    const ready = modelIds.filter((id) => listed.includes(id));
    if (ready.join() !== reported) onProgress(ready);
    reported = ready.join();
    if (ready.length === modelIds.length) return;
    await sleep(250);
  }
  throw new StartError(`the models ${modelIds.join(', ')} were not all listed within ${timeoutMs / 1000} s`);
}

async function listModels(gatewayUrl: string, apiKey: string): Promise<string[]> {
  try {
    const response = await fetch(`${gatewayUrl}/v1/models`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    if (response.status !== 200) return [];
    const parsed = ModelListSchema.safeParse(await response.json());
    return parsed.success ? parsed.data.data.map((model) => model.id) : [];
  } catch {
    return [];
  }
}
