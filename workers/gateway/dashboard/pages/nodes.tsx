/** @jsxImportSource hono/jsx */
/**
 * Nodes (operator): each node's health and last heartbeat, GPUs, engines with state and load, the
 * last log lines of an engine that is not ready; drain, resume or evict a node; node tokens.
 */
import { Hono, type Context } from 'hono';
import { ApiError } from '../../../../src/openai/errors.ts';
import { directory, registry } from '../../../objects/stubs.ts';
import { adminApi } from '../admin-api.ts';
import { ConfirmForm, CsrfField, Notice, Pill, ShownOnce, Table, Time } from '../components.tsx';
import type { DashboardEnv } from '../env.ts';
import { field, nodeTokenBody, type Form } from '../forms.ts';
import { renderPage } from '../layout.tsx';
import type { CreatedNodeToken, List, NodeTokenSummary, NodeView } from '../types.ts';
import { NodeCard } from './node-card.tsx';
import { ModelTags } from './keys.tsx';
import { formError, FormErrorNotice, ModelsField, renderConfirmation, type FormError } from './shared.tsx';

export const nodesRoutes = new Hono<DashboardEnv>();

nodesRoutes.get('/dashboard/nodes', function showNodes(c) {
  return renderNodes(c, { evicted: c.req.query('evicted'), revoked: c.req.query('revoked') });
});

nodesRoutes.post('/dashboard/node-tokens', async function createNodeToken(c) {
  const form = (await c.req.parseBody()) as Form;
  try {
    const created = await adminApi(c).send<CreatedNodeToken>('POST', '/node-tokens', nodeTokenBody(form));
    return await renderNodes(c, { created });
  } catch (error) {
    const invalid = formError(error);
    if (!invalid) throw error;
    return renderNodes(c, { error: invalid, form });
  }
});

nodesRoutes.post('/dashboard/node-tokens/:tokenId/revoke', async function revokeNodeToken(c) {
  const tokenId = c.req.param('tokenId');
  const form = (await c.req.parseBody()) as Form;
  if (field(form, 'confirmed') !== 'yes') {
    return renderConfirmation(c, {
      title: 'Revoke node token',
      section: 'nodes',
      message:
        'Revoke this node token? It registers no new node; nodes registered with it stay until evicted.',
      action: `/dashboard/node-tokens/${encodeURIComponent(tokenId)}/revoke`,
      button: 'Revoke token',
      cancel: '/dashboard/nodes',
    });
  }
  await adminApi(c).send('DELETE', `/node-tokens/${encodeURIComponent(tokenId)}`);
  return c.redirect(`/dashboard/nodes?revoked=${encodeURIComponent(tokenId)}`, 303);
});

nodesRoutes.post('/dashboard/nodes/:nodeId/evict', async function evictNode(c) {
  const nodeId = c.req.param('nodeId');
  const form = (await c.req.parseBody()) as Form;
  if (field(form, 'confirmed') !== 'yes') {
    return renderConfirmation(c, {
      title: 'Evict node',
      section: 'nodes',
      message: 'Evict this node? Its engines leave every pool now; the agent must register again.',
      action: `/dashboard/nodes/${encodeURIComponent(nodeId)}/evict`,
      button: 'Evict node',
      cancel: '/dashboard/nodes',
    });
  }
  await adminApi(c).send('DELETE', `/nodes/${encodeURIComponent(nodeId)}`);
  return c.redirect(`/dashboard/nodes?evicted=${encodeURIComponent(nodeId)}`, 303);
});

/**
 * Drain has no admin API route (an agent drains itself through the node API); the operator's
 * drain is the registry's, audited like the admin API's own changes.
 */
nodesRoutes.post('/dashboard/nodes/:nodeId/drain', async function drainNode(c) {
  if (c.get('session').caller.kind !== 'operator') {
    throw new ApiError(403, 'Only the operator (ADMIN_TOKEN) may do this.', { code: 'operator_only' });
  }
  const nodeId = c.req.param('nodeId');
  const draining = field((await c.req.parseBody()) as Form, 'draining') !== 'no';
  if (!(await registry(c.env).setDraining(nodeId, draining))) {
    throw new ApiError(404, `No node \`${nodeId}\`.`, { code: 'node_not_found' });
  }
  await directory(c.env).audit({
    actor: 'operator',
    tenantId: null,
    action: draining ? 'node.drain' : 'node.resume',
    target: nodeId,
    details: null,
  });
  return c.redirect('/dashboard/nodes', 303);
});

async function renderNodes(
  c: Context<DashboardEnv>,
  state: { created?: CreatedNodeToken; error?: FormError; form?: Form; evicted?: string; revoked?: string },
): Promise<Response> {
  const api = adminApi(c);
  const [nodes, tokens] = await Promise.all([
    api.get<List<NodeView>>('/nodes'),
    api.get<List<NodeTokenSummary>>('/node-tokens'),
  ]);
  const csrf = c.get('session').csrf;
  const now = Date.now();
  const origin = new URL(c.req.url).origin;
  return renderPage(
    c,
    {
      title: 'Nodes',
      section: 'nodes',
      refreshMs: 3000,
      status: state.created ? 201 : state.error ? 400 : 200,
    },
    <>
      {state.created ? (
        <>
          <ShownOnce
            id="new-node-token"
            label={`Node token “${state.created.name}”`}
            value={state.created.token}
            what="node token"
          />
          <p class="small muted">
            On the GPU machine:{' '}
            <code>{`SWITCHYARD_NODE_TOKEN=… gpu-node init --gateway ${origin} --engine vllm=<model>`}</code>
          </p>
        </>
      ) : null}
      {state.evicted ? <Notice tone="ok">The node was evicted; its engines left every pool.</Notice> : null}
      {state.revoked ? <Notice tone="ok">The node token was revoked.</Notice> : null}
      <div id="node-list" data-live="">
        {nodes.data.length === 0 ? (
          <Notice>No node is registered. Create a node token below and enrol a GPU machine with it.</Notice>
        ) : (
          nodes.data.map((node) => <NodeCard node={node} now={now} csrf={csrf} />)
        )}
      </div>
      <section class="panel">
        <h2>Node tokens</h2>
        <Table
          id="node-tokens"
          empty="No node tokens yet."
          actions
          columns={[
            { label: 'Name' },
            { label: 'Token' },
            { label: 'Owner' },
            { label: 'Models' },
            { label: 'Created' },
            { label: 'Status' },
          ]}
          rows={tokens.data.map((token) => [
            token.name,
            <code class="nowrap">{`snt-${token.id.slice(0, 8)}…`}</code>,
            scopeOf(token)?.owner ?? <span class="muted">—</span>,
            <ModelTags models={scopeOf(token)?.models ?? null} own />,
            <Time at={token.createdAt} />,
            token.revokedAt === null ? <Pill tone="ok">active</Pill> : <Pill tone="bad">revoked</Pill>,
            token.revokedAt === null ? (
              <ConfirmForm
                action={`/dashboard/node-tokens/${encodeURIComponent(token.id)}/revoke`}
                csrf={csrf}
                confirm={`Revoke node token “${token.name}”? It registers no new node.`}
                label="Revoke"
                small
              />
            ) : null,
          ])}
        />
        <form method="post" action="/dashboard/node-tokens" class="stack">
          <CsrfField token={csrf} />
          <h3>New node token</h3>
          <FormErrorNotice error={state.error} />
          <div class="form-grid">
            <label class={state.error?.param === 'name' ? 'field-error' : undefined}>
              Name
              <input
                name="name"
                required
                maxlength={128}
                placeholder="gpu-box-1"
                value={state.form ? field(state.form, 'name') : ''}
              />
            </label>
            <label class={state.error?.param === 'owner' ? 'field-error' : undefined}>
              <span>
                Owner <span class="hint">(who runs these nodes)</span>
              </span>
              <input
                name="owner"
                maxlength={128}
                placeholder="operator"
                value={state.form ? field(state.form, 'owner') : ''}
              />
            </label>
            <label class={state.error?.param === 'maxConcurrency' ? 'field-error' : undefined}>
              <span>
                Max concurrency <span class="hint">(per engine, optional)</span>
              </span>
              <input
                name="maxConcurrency"
                inputmode="numeric"
                value={state.form ? field(state.form, 'maxConcurrency') : ''}
              />
            </label>
            <ModelsField
              form={state.form}
              error={state.error}
              hint="the models its nodes may serve; * for any"
            />
          </div>
          <div class="buttons">
            <button type="submit">Create node token</button>
          </div>
        </form>
      </section>
    </>,
  );
}

/** A node token's scope, where the admin API reports one (at the top level or under `scope`). */
function scopeOf(token: NodeTokenSummary): { owner?: string; models?: string[] } | null {
  const withScope = token as NodeTokenSummary & {
    owner?: string;
    models?: string[];
    scope?: { owner?: string; models?: string[] };
  };
  if (withScope.scope) return withScope.scope;
  return withScope.owner !== undefined || withScope.models !== undefined ? withScope : null;
}
