/**
 * The ports one agent needs: its proxy, its metrics listener, and each launched engine's
 * loopback port. `check` reports the taken ones; `start` refuses to start while any is taken,
 * rather than run half-working (a second agent on one machine, say, without its /metrics).
 */
import type { AgentConfig } from './config.ts';
import { ENGINE_HOST } from './engines/launch.ts';
import { bindProblem } from './processes/ports.ts';

export interface Listen {
  host: string;
  port: number;
}

export interface PortClaim extends Listen {
  /** Who needs it and which setting chose it, e.g. `engine qwen (engines[0].port)`. */
  owner: string;
}

export interface TakenPort extends PortClaim {
  problem: string;
}

export function portClaims(config: AgentConfig, metricsListen: Listen | null): PortClaim[] {
  const { host, port } = config.node.listen;
  return [
    { host, port, owner: "the agent's proxy (node.listen.port)" },
    ...(metricsListen ? [{ ...metricsListen, owner: "the agent's metrics (--metrics-listen)" }] : []),
    ...config.engines.flatMap((engine, index) =>
      engine.kind === 'external'
        ? []
        : [{ host: ENGINE_HOST, port: engine.port, owner: `engine ${engine.id} (engines[${index}].port)` }],
    ),
  ];
}

/** Every claim with whether it can be bound now (null) or why not. */
export async function probeClaims(
  claims: PortClaim[],
): Promise<Array<PortClaim & { problem: string | null }>> {
  const probed = [];
  for (const claim of claims) probed.push({ ...claim, problem: await bindProblem(claim.host, claim.port) });
  return probed;
}

export function isTaken(claim: PortClaim & { problem: string | null }): claim is TakenPort {
  return claim.problem !== null;
}

export function describeTaken({ port, owner, problem }: TakenPort): string {
  const why = problem === 'EADDRINUSE' ? 'another process listens there' : 'it cannot be bound';
  return `port ${port} for ${owner} is not free (${problem}): ${why}`;
}

/** The hint that goes under a list of taken ports. */
export const TAKEN_PORT_HINT =
  'Another gpu-node on this machine? Each agent needs its own node.listen.port, --metrics-listen ' +
  '(or --metrics-listen off) and engine ports; otherwise stop whatever holds them.';
