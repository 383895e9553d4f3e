/**
 * The agent's own Prometheus metrics. A registry per agent rather than prom-client's global one,
 * so several agents (in tests) do not collide. Served on a loopback port by metrics-server.ts.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { ENGINE_STATES, type EngineState } from '../src/protocol/node-api.ts';

export interface AgentMetrics {
  registry: Registry;
  setEngineState(engine: string, state: EngineState): void;
  restarts: Counter<'engine'>;
  hangs: Counter<'engine'>;
  inFlight: Gauge<'engine'>;
  proxiedRequests: Counter<'engine' | 'status'>;
  heartbeatFailures: Counter;
}

export function createAgentMetrics(): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gpu_node_' });
  const engineState = new Gauge({
    name: 'gpu_node_engine_state',
    help: 'Supervisor state per engine: 1 for the current state, 0 for the others.',
    labelNames: ['engine', 'state'] as const,
    registers: [registry],
  });
  return {
    registry,
    setEngineState(engine, state) {
      for (const candidate of ENGINE_STATES)
        engineState.set({ engine, state: candidate }, candidate === state ? 1 : 0);
    },
    restarts: new Counter({
      name: 'gpu_node_engine_restarts_total',
      help: 'Times the supervisor restarted an engine after it died or hung.',
      labelNames: ['engine'] as const,
      registers: [registry],
    }),
    hangs: new Counter({
      name: 'gpu_node_engine_hangs_total',
      help: 'Times an engine was declared hung (failing health checks, no progress) and its in-flight requests ended.',
      labelNames: ['engine'] as const,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'gpu_node_in_flight_requests',
      help: 'Requests being proxied to an engine right now.',
      labelNames: ['engine'] as const,
      registers: [registry],
    }),
    proxiedRequests: new Counter({
      name: 'gpu_node_proxied_requests_total',
      help: 'Requests the proxy forwarded, by engine and response status (502 when the engine was unreachable).',
      labelNames: ['engine', 'status'] as const,
      registers: [registry],
    }),
    heartbeatFailures: new Counter({
      name: 'gpu_node_heartbeat_failures_total',
      help: 'Heartbeats (and registrations) that did not reach the gateway or were refused.',
      registers: [registry],
    }),
  };
}
