/**
 * `gpu-node check`, the gateway's half: is the gateway reachable, and would it accept this node
 * token and this registration? Asked with the gateway's dry-run registration, which verifies
 * both exactly as `start` will be verified and stores nothing.
 */
import { parseCredential } from '../src/credentials.ts';
import { DryRunResponseSchema, type EngineReport, type RegisterRequest } from '../src/protocol/node-api.ts';
import type { CheckLine } from './check.ts';
import type { AgentConfig } from './config.ts';
import {
  asGatewayError,
  callGateway,
  describeError,
  type GatewayError,
  isTokenRefusal,
} from './gateway-http.ts';
import { AGENT_VERSION } from './version.ts';

/** A node seen this recently under the same name is probably another agent running now. */
const RECENTLY_SEEN_MS = 60_000;

/** The registration `start` would send, with every engine still `starting`. */
function plannedRegistration(config: AgentConfig): RegisterRequest {
  const engines: EngineReport[] = config.engines.map((engine) => ({
    id: engine.id,
    kind: engine.kind,
    model: engine.servedModelName,
    state: 'starting',
    load: null,
    maxConcurrency: engine.maxConcurrency,
    restarts: 0,
    lastLogLines: [],
  }));
  return {
    name: config.node.name,
    url: config.node.publicUrl,
    agentVersion: AGENT_VERSION,
    engines,
    gpus: [],
  };
}

export async function checkGateway(config: AgentConfig, timeoutMs = 10_000): Promise<CheckLine[]> {
  const { url, nodeToken } = config.gateway;
  if (parseCredential(nodeToken)?.kind !== 'nodeToken') {
    return [
      {
        level: 'error',
        message:
          'gateway.nodeToken is not a node token (snt-<id>.<secret>); ask the gateway operator for one',
      },
    ];
  }
  try {
    const answer = await callGateway({
      gatewayUrl: url,
      path: '/nodes/register/dry-run',
      token: nodeToken,
      body: plannedRegistration(config),
      answer: DryRunResponseSchema,
      timeoutMs,
    });
    const lines: CheckLine[] = [
      { level: 'ok', message: `gateway ${url} accepts the node token and this node's registration` },
    ];
    const twin = answer.sameName;
    if (twin && Date.now() - twin.lastSeenAt < RECENTLY_SEEN_MS) {
      const seconds = Math.round((Date.now() - twin.lastSeenAt) / 1000);
      lines.push({
        level: 'warn',
        message: `a node named "${config.node.name}" is registered with this token (last heard ${seconds} s ago): starting replaces it; two machines must not share a name`,
      });
    }
    return lines;
  } catch (error) {
    return [{ level: 'error', message: explainRefusal(url, asGatewayError(error)) }];
  }
}

function explainRefusal(url: string, error: GatewayError): string {
  if (error.status === null) return `${describeError(error)}: is gateway.url right, and is the gateway up?`;
  if (isTokenRefusal(error)) {
    return `the gateway at ${url} refused the node token (${error.status} ${error.code ?? ''}): it is unknown or revoked; ask the gateway operator for a new one`;
  }
  if (error.status === 404) {
    return `${url} has no /nodes/register/dry-run (404): not a Switchyard gateway, or one older than this agent`;
  }
  if (error.status === 400) return `the gateway would refuse this node's registration: ${error.message}`;
  return describeError(error);
}
