/**
 * The node agent beside the local gateway: one node named "local" supervising two engine
 * simulators, a chat model and an embedding model (labelled demo engines, not real ones).
 * The config it writes is gpu-node/config.ts's file format.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { pickPort } from '../gpu-node/index.ts';
import { spawnManaged, tailLog } from './child-processes.ts';
import { waitForModels } from './seed-gateway.ts';
import { StartError } from './start-error.ts';
import type { Supervisor } from './supervisor.ts';

export const CHAT_MODEL = 'switchyard-sim-chat';
export const EMBED_MODEL = 'switchyard-sim-embed';
const MODELS_TIMEOUT_MS = 60_000;

export interface LocalAgentOptions {
  root: string;
  configFile: string;
  logDir: string;
  gatewayUrl: string;
  nodeToken: string;
  /** Used to watch GET /v1/models until the agent's engines are listed. */
  demoKey: string;
  supervisor: Supervisor;
}

/** Starts the agent and resolves with its URL once the gateway lists both models. */
export async function startLocalAgent(options: LocalAgentOptions): Promise<string> {
  const agentMain = path.join(options.root, 'gpu-node', 'bin', 'gpu-node.js');
  if (!fs.existsSync(agentMain)) {
    throw new StartError(
      `the node agent (${agentMain}) is missing; \`npm start -- --no-agent\` runs the gateway alone`,
    );
  }
  const agentPort = await pickPort(8100);
  const chatPort = await pickPort(8001);
  const embedPort = await pickPort(chatPort === 8001 ? 8002 : chatPort + 1);
  // The agent refuses to start when its metrics port is taken (by another agent, say).
  const metricsPort = await pickPort(9464);
  fs.writeFileSync(options.configFile, agentConfigYaml(options, agentPort, chatPort, embedPort), {
    mode: 0o600,
  });

  const logFile = path.join(options.logDir, 'agent.log');
  const args = [
    agentMain,
    'start',
    '--config',
    options.configFile,
    '--metrics-listen',
    `127.0.0.1:${metricsPort}`,
  ];
  const spawnAgent = (appendLog: boolean) =>
    spawnManaged('node agent', process.execPath, args, {
      cwd: options.root,
      env: process.env,
      logFile,
      appendLog,
    });
  // It drains for up to drainTimeoutMs (5 s below), then stops its engines. A crashed agent's
  // engines stop themselves (they watch their parent), so a restart finds their ports free.
  options.supervisor.supervise(spawnAgent(false), 20_000, async () => spawnAgent(true));

  const wanted = [CHAT_MODEL, EMBED_MODEL];
  process.stdout.write(
    `Starting the node agent with two simulated engines (waiting for ${wanted.join(', ')})…`,
  );
  const started = Date.now();
  const shown = new Set<string>();
  try {
    await waitForModels(options.gatewayUrl, options.demoKey, wanted, MODELS_TIMEOUT_MS, (listed) => {
      for (const model of listed.filter((id) => !shown.has(id))) process.stdout.write(` ${model} ✓`);
      listed.forEach((id) => shown.add(id));
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartError(
      `${reason}.\nThe agent's log is ${logFile}; engine logs are in ${options.logDir}/. Its last lines:\n${tailLog(logFile)}`,
      { cause: error },
    );
  }
  console.log(` ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return `http://127.0.0.1:${agentPort}`;
}

function agentConfigYaml(
  options: LocalAgentOptions,
  agentPort: number,
  chatPort: number,
  embedPort: number,
): string {
  const document = {
    gateway: { url: options.gatewayUrl, nodeToken: options.nodeToken },
    node: {
      name: 'local',
      listen: { host: '127.0.0.1', port: agentPort },
      publicUrl: `http://127.0.0.1:${agentPort}`,
    },
    // One machine, no scale concern: a short interval keeps the dashboard live and lets a lost
    // agent be noticed quickly. (Readiness itself is reported at once, whatever the interval.)
    heartbeatIntervalMs: 1000,
    // Ctrl-C should not wait a minute for demo traffic to finish.
    drainTimeoutMs: 5000,
    logDir: options.logDir,
    engines: [
      { id: CHAT_MODEL, kind: 'sim', model: CHAT_MODEL, servedModelName: CHAT_MODEL, port: chatPort },
      {
        id: EMBED_MODEL,
        kind: 'sim',
        model: EMBED_MODEL,
        servedModelName: EMBED_MODEL,
        port: embedPort,
        args: ['--task', 'embed'],
      },
    ],
  };
  return `# Written by \`npm start\` (scripts/local-agent.ts) on every start; edit that file instead.\n${stringify(document)}`;
}
