/**
 * The node agent's config for the local system: one node named "local" next to the gateway,
 * supervising two engine simulators, a chat model and an embedding model (labelled demo
 * engines, not real ones). The shape is gpu-node/config.ts's file format.
 */
import fs from 'node:fs';
import { stringify } from 'yaml';

export const CHAT_MODEL = 'switchyard-sim-chat';
export const EMBED_MODEL = 'switchyard-sim-embed';

export interface LocalAgentConfig {
  gatewayUrl: string;
  nodeToken: string;
  agentPort: number;
  chatPort: number;
  embedPort: number;
  logDir: string;
}

export function writeAgentConfig(file: string, config: LocalAgentConfig): void {
  const document = {
    gateway: { url: config.gatewayUrl, nodeToken: config.nodeToken },
    node: {
      name: 'local',
      listen: { host: '127.0.0.1', port: config.agentPort },
      publicUrl: `http://127.0.0.1:${config.agentPort}`,
    },
    // Ctrl-C should not wait a minute for demo traffic to finish.
    drainTimeoutMs: 5000,
    logDir: config.logDir,
    engines: [
      { id: CHAT_MODEL, kind: 'sim', model: CHAT_MODEL, servedModelName: CHAT_MODEL, port: config.chatPort },
      {
        id: EMBED_MODEL,
        kind: 'sim',
        model: EMBED_MODEL,
        servedModelName: EMBED_MODEL,
        port: config.embedPort,
        args: ['--task', 'embed'],
      },
    ],
  };
  const header = '# Written by `npm start` (scripts/agent-config.ts) on every start; edit that instead.\n';
  fs.writeFileSync(file, header + stringify(document), { mode: 0o600 });
}
