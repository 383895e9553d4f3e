/**
 * The node API the GPU agents call (contract in src/protocol/node-api.ts). Registration takes
 * a node token; everything after it takes the node credential issued at registration. API
 * keys open nothing here.
 */
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import { readJsonBody } from '../dispatch/read-json.ts';
import type { AppEnv } from '../config.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { nodeCredentialAuth } from '../middleware/node-credential-auth.ts';
import { nodeTokenAuth } from '../middleware/node-token-auth.ts';
import {
  HeartbeatRequestSchema,
  NODE_UNKNOWN_CODE,
  RegisterRequestSchema,
} from '../../../src/protocol/node-api.ts';
import { registry } from '../../objects/stubs.ts';
import type { NodeCall } from '../../objects/node-registry.ts';

const MAX_NODE_REPORT_BYTES = 256 * 1024;

export const nodeRoutes = new Hono<AppEnv>();

nodeRoutes.post('/nodes/register', nodeTokenAuth(), async function registerNode(c) {
  const { fields } = await readNodeReport(c, RegisterRequestSchema);
  const registered = await registry(c.env).register({ tokenId: c.get('nodeToken').id, ...fields });
  return c.json(registered, 201);
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

function readNodeReport<S extends z.ZodType>(c: Context<AppEnv>, schema: S) {
  return readJsonBody(c.req.raw, schema, MAX_NODE_REPORT_BYTES);
}

/** An unknown node or a wrong credential look the same to the caller: register again. */
function known<T>(call: NodeCall<T>): T {
  if (!call.ok) {
    throw new ApiError(
      401,
      'The gateway does not know this node (or the credential is wrong): register again.',
      {
        code: NODE_UNKNOWN_CODE,
      },
    );
  }
  return call.value;
}
