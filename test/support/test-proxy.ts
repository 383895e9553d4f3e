/** The agent's proxy and a throwaway engine server on free local ports, as the node tests run them. */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAgentMetrics } from '../../gpu-node/agent-metrics.ts';
import { AgentProxy, type ProxyOptions } from '../../gpu-node/proxy.ts';
import { silentLogger } from './throwaway-engine.ts';

/** An AgentProxy with fresh metrics and a silent logger, listening on 127.0.0.1; with its port. */
export async function startTestProxy(
  options: Pick<ProxyOptions, 'findEngine' | 'credential'>,
): Promise<{ proxy: AgentProxy; port: number }> {
  const proxy = new AgentProxy({ ...options, metrics: createAgentMetrics(), logger: silentLogger });
  return { proxy, port: (await proxy.listen('127.0.0.1', 0)).port };
}

/** Starts `server` on a free port of 127.0.0.1; its port. */
export async function listenLocally(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Closes `server`, its open keep-alive connections included. */
export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
