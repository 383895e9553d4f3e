/**
 * `gpu-node status`: what the gateway holds about this node, asked with the credential of the
 * agent's current registration (kept in the config's stateFile). Exit 0 when the gateway knows
 * the node, 1 when it does not, cannot be reached, or the agent never registered.
 */
import { NodeStatusResponseSchema, type NodeStatusResponse } from '../../src/protocol/node-api.ts';
import { loadAgentConfig } from '../config.ts';
import { asGatewayError, callGateway, describeError } from '../gateway-http.ts';
import { readNodeState } from '../node-state.ts';
import { isAlive } from '../processes/process-tree.ts';

export async function showStatus(options: { config: string; json?: boolean }): Promise<void> {
  const config = await loadAgentConfig(options.config);
  const state = await readNodeState(config.stateFile);
  if (!state) {
    fail(
      `not registered: no agent started from ${options.config} holds a registration (is \`gpu-node start\` running?)`,
    );
    return;
  }
  let node: NodeStatusResponse;
  try {
    node = await callGateway({
      gatewayUrl: state.gatewayUrl,
      path: '/nodes/self',
      token: state.credential,
      answer: NodeStatusResponseSchema,
      timeoutMs: 10_000,
    });
  } catch (error) {
    const failure = asGatewayError(error);
    fail(
      failure.status === 401
        ? `the gateway no longer knows node ${state.nodeId}: the agent deregistered, or it was evicted after missed heartbeats`
        : describeError(failure),
    );
    return;
  }
  if (options.json) process.stdout.write(`${JSON.stringify(node, null, 2)}\n`);
  else process.stdout.write(describeNode(node, state.gatewayUrl, isAlive(state.pid) ? state.pid : null));
}

function fail(message: string): void {
  process.stderr.write(`gpu-node: ${message}\n`);
  process.exitCode = 1;
}

function ago(at: number): string {
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

/** What the gateway sees, for a person: the node, then one line per engine and per GPU. */
function describeNode(node: NodeStatusResponse, gatewayUrl: string, agentPid: number | null): string {
  const health =
    node.status === 'healthy' ? 'healthy' : `unhealthy (no heartbeat since ${ago(node.lastSeenAt)})`;
  const lines = [
    `node ${node.name} (id ${node.nodeId}): ${health}${node.draining ? ', draining' : ''}`,
    `  gateway   ${gatewayUrl} calls it at ${node.url}`,
    `  agent     ${node.agentVersion}, ${agentPid === null ? 'not running here' : `running as pid ${agentPid}`}; registered ${ago(node.registeredAt)}, last heartbeat ${ago(node.lastSeenAt)}`,
  ];
  for (const engine of node.engines) {
    const load = engine.load
      ? `${engine.load.running} running, ${engine.load.waiting} waiting, KV cache ${Math.round(engine.load.kvCacheUsage * 100)}%`
      : 'no load reported yet';
    lines.push(
      `  engine    ${engine.id} (${engine.kind}, model ${engine.model}): ${engine.state}, ${engine.routable ? 'routed to' : 'not routed to'}; ${engine.inflight} in flight of ${engine.maxConcurrency}; ${load}; ${engine.restarts} restarts`,
    );
  }
  for (const gpu of node.gpus) {
    const memory =
      gpu.memoryTotalMiB === null ? '' : `, ${gpu.memoryUsedMiB ?? '?'}/${gpu.memoryTotalMiB} MiB`;
    const use = gpu.utilizationPct === null ? '' : `, ${gpu.utilizationPct}% busy`;
    lines.push(`  gpu       ${gpu.index} ${gpu.name}${memory}${use}`);
  }
  return `${lines.join('\n')}\n`;
}
