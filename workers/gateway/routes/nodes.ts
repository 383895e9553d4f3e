/**
 * The node API the GPU agents call (contract in src/protocol/node-api.ts). Registration (and its
 * dry run, for `gpu-node check`) takes a node token; everything after it takes the node
 * credential issued at registration. API keys open nothing here.
 */
import { Hono, type Context } from 'hono';
import type * as z from '../../../src/zod-mini.ts';
import { readJsonBody } from '../dispatch/read-json.ts';
import { gatewayConfig, type AppEnv } from '../config.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { nodeCredentialAuth } from '../middleware/node-credential-auth.ts';
import { nodeTokenAuth } from '../middleware/node-token-auth.ts';
import {
  type DryRunResponse,
  HeartbeatRequestSchema,
  NODE_UNKNOWN_CODE,
  type NodeStatusResponse,
  RegisterRequestSchema,
} from '../../../src/protocol/node-api.ts';
import { nodeUrlProblem } from '../../../src/nodes/node-url.ts';
import { scopeViolation } from '../../../src/nodes/node-scope.ts';
import { modelPool, registry } from '../../objects/stubs.ts';
import type { NodeCall } from '../../objects/node-registry.ts';

const MAX_NODE_REPORT_BYTES = 256 * 1024;

export const nodeRoutes = new Hono<AppEnv>();

nodeRoutes.post('/nodes/register', nodeTokenAuth(), async function registerNode(c) {
  const { fields } = await readNodeReport(c, RegisterRequestSchema);
  const { id: tokenId, scope } = c.get('nodeToken');
  refuseBeyondTrust(c, fields);
  const registered = await registry(c.env).register({ tokenId, scope, ...fields });
  return c.json(registered, 201);
});

/**
 * A node is trusted as far as its token says and no further: it may not register a URL inside
 * the gateway's own network, nor claim a model or a capacity its token does not allow.
 */
function refuseBeyondTrust(
  c: Context<AppEnv>,
  report: { url: string; engines: Array<{ id: string; model: string; maxConcurrency: number }> },
): void {
  const urlProblem = nodeUrlProblem(report.url, { allowPrivate: gatewayConfig(c.env).allowPrivateNodeUrls });
  if (urlProblem) {
    throw new ApiError(400, `The node URL ${report.url} is not allowed: ${urlProblem}.`, {
      param: 'url',
      code: 'node_url_not_allowed',
    });
  }
  const beyond = scopeViolation(c.get('nodeToken').scope, report.engines);
  if (beyond) throw new ApiError(403, `Registration refused: ${beyond}.`, { code: 'node_scope_exceeded' });
}

/**
 * Everything a registration checks (the token, the body), without registering: an owner's
 * `gpu-node check` learns that `start` will be accepted before it starts anything.
 */
nodeRoutes.post('/nodes/register/dry-run', nodeTokenAuth(), async function dryRunRegistration(c) {
  const { fields } = await readNodeReport(c, RegisterRequestSchema);
  const tokenId = c.get('nodeToken').id;
  refuseBeyondTrust(c, fields);
  const same = (await registry(c.env).listNodes()).find(
    (node) => node.tokenId === tokenId && node.name === fields.name,
  );
  return c.json({
    ok: true,
    heartbeatIntervalMs: gatewayConfig(c.env).heartbeatIntervalMs,
    sameName: same ? { nodeId: same.id, status: same.status, lastSeenAt: same.lastSeenAt } : null,
  } satisfies DryRunResponse);
});

/** The node's own record and whether each engine is routed to now, for `gpu-node status`. */
nodeRoutes.get('/nodes/self', nodeCredentialAuth(), async function showOwnNode(c) {
  const { id, credential } = c.get('node');
  const { tokenId: _token, ...node } = known(await registry(c.env).viewOwnNode(id, credential));
  const models = [...new Set(node.engines.map((engine) => engine.model))];
  const pooled = (await Promise.all(models.map((model) => modelPool(c.env, model).snapshot())))
    .flat()
    .filter((engine) => engine.nodeId === node.id);
  const { id: nodeId, engines, ...rest } = node;
  return c.json({
    nodeId,
    ...rest,
    engines: engines.map((engine) => {
      const inPool = pooled.find((candidate) => candidate.engineId === engine.id);
      return { ...engine, routable: inPool?.available ?? false, inflight: inPool?.inflight ?? 0 };
    }),
  } satisfies NodeStatusResponse);
});

nodeRoutes.post('/nodes/heartbeat', nodeCredentialAuth(), async function recordHeartbeat(c) {
  const { fields } = await readNodeReport(c, HeartbeatRequestSchema);
  const { id, credential } = c.get('node');
  const result = known(await registry(c.env).heartbeat(id, credential, fields));
  return c.json({ ok: true, draining: result.draining });
});

nodeRoutes.post('/nodes/drain', nodeCredentialAuth(), async function drainNode(c) {
  const { id, credential } = c.get('node');
  known(await registry(c.env).drain(id, credential));
  return c.json({ ok: true, draining: true });
});

nodeRoutes.post('/nodes/deregister', nodeCredentialAuth(), async function deregisterNode(c) {
  const { id, credential } = c.get('node');
  known(await registry(c.env).deregister(id, credential));
  return c.json({ ok: true });
});

function readNodeReport<S extends z.core.$ZodType>(c: Context<AppEnv>, schema: S) {
  return readJsonBody(c.req.raw, schema, MAX_NODE_REPORT_BYTES);
}

/** An unknown node or a wrong credential look the same to the caller: register again. */
function known<T>(call: NodeCall<T>): T {
  if (call.ok) return call.value;
  if (call.reason === 'scope_exceeded') {
    throw new ApiError(403, `Heartbeat refused: ${call.detail}.`, { code: 'node_scope_exceeded' });
  }
  throw new ApiError(
    401,
    'The gateway does not know this node (or the credential is wrong): register again.',
    {
      code: NODE_UNKNOWN_CODE,
    },
  );
}
