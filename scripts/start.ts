/**
 * `npm start`: the whole system on one machine, no account. Bundles the Worker with wrangler,
 * runs it on plain workerd with its Durable Objects on local disk, seeds a demo key and a node
 * token on first start, and runs a node agent with two engine simulators beside it.
 * Everything it keeps lives in .switchyard/ (`--fresh` wipes it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CHAT_MODEL, EMBED_MODEL, writeAgentConfig } from './agent-config.ts';
import { bundleWorker } from './bundle.ts';
import { describeExit, isPortFree, killGroup, pickPort, spawnManaged, tailLog, type ManagedChild } from './child-processes.ts';
import { readDevVars, readState, resolveAdminToken, writeState } from './local-state.ts';
import { ensureSeeded, waitForHealthy, waitForModels } from './seed-gateway.ts';
import { printSummary } from './start-summary.ts';
import { StartError } from './start-error.ts';
import { generateWorkerdConfig, parseWranglerToml } from './workerd-config.ts';
import { startWorkerd, workerdPackage } from './workerd-process.ts';

/** Not wrangler dev's 8787, so `npm start` and `npm run dev` can run side by side. */
const DEFAULT_PORT = 8080;
const MODELS_TIMEOUT_MS = 60_000;

const root = path.resolve(import.meta.dirname, '..');
const home = path.join(root, '.switchyard');
const files = {
  bundle: path.join(home, 'bundle'),
  doStorage: path.join(home, 'do'),
  logs: path.join(home, 'logs'),
  state: path.join(home, 'state.json'),
  workerdConfig: path.join(home, 'workerd.capnp'),
  agentConfig: path.join(home, 'agent.yaml'),
};
const shown = (file: string) => path.relative(process.cwd(), file) || '.';

const { values: flags } = parseArgs({
  options: { fresh: { type: 'boolean', default: false }, 'no-agent': { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
});
if (flags.help) {
  console.log(`Usage: npm start [-- --fresh] [-- --no-agent]

  --fresh     wipe .switchyard/ (Durable Object storage, demo key, admin token) first
  --no-agent  run the gateway only, without the local node agent and its simulated engines

Environment: PORT (gateway port, default ${DEFAULT_PORT}), ADMIN_TOKEN, and any [vars] entry of wrangler.toml.`);
  process.exit(0);
}

const children: ManagedChild[] = [];
let stopping = false;

/** Stops the children newest first: the agent drains through a gateway that is still up. */
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const child of [...children].reverse()) {
      process.stdout.write(`Stopping ${child.name}… `);
      const exit = await child.stop(child.name === 'workerd' ? 5000 : 20_000);
      console.log(`stopped (${describeExit(exit)})`);
    }
  }
  process.exit(code);
}

function supervise(child: ManagedChild): void {
  children.push(child);
  void child.exited.then((exit) => {
    if (stopping) return;
    console.error(`\n${child.name} exited unexpectedly (${describeExit(exit)}). Last lines of ${shown(child.logFile)}:\n${tailLog(child.logFile)}\n`);
    void shutdown(1);
  });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!stopping) return void shutdown(0);
    console.log('\nStopping at once.');
    process.exit(130);
  });
}
process.on('exit', () => children.forEach((child) => killGroup(child.process, 'SIGKILL')));

async function step<T>(label: string, run: () => Promise<T>, detail: (result: T) => string): Promise<T> {
  process.stdout.write(`${label}… `);
  const started = Date.now();
  const result = await run();
  console.log(`${detail(result)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return result;
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StartError(`PORT must be a port number, got ${process.env.PORT}`);
  if (flags.fresh) fs.rmSync(home, { recursive: true, force: true });
  for (const dir of [home, files.doStorage, files.logs]) fs.mkdirSync(dir, { recursive: true });

  const wranglerToml = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
  const toml = parseWranglerToml(wranglerToml);
  const bundle = await step('Bundling the Worker (wrangler deploy --dry-run)', () => bundleWorker(root, files.bundle, toml.main),
    (b) => `${b.modules.length} module(s), ${Math.round(b.bytes / 1024)} KiB`);

  const devVars = readDevVars(path.join(root, '.dev.vars'));
  const admin = resolveAdminToken(process.env, devVars, readState(files.state), shown(files.state));
  writeState(files.state, admin.state);
  if (!(await isPortFree(port))) throw new StartError(`port ${port} on 127.0.0.1 is in use; choose another with PORT=<port> npm start`);

  // .dev.vars entries override [vars] as under wrangler dev; the environment overrides both.
  const env = { ...process.env, ...devVars, ...definedEntries(process.env), ADMIN_TOKEN: admin.token };
  const secretNames = ['ADMIN_TOKEN', ...Object.keys(devVars).filter((name) => name !== 'ADMIN_TOKEN' && !(name in toml.vars))];
  fs.writeFileSync(files.workerdConfig, generateWorkerdConfig({
    wranglerToml, configDir: home, bundleDir: bundle.dir, modules: bundle.modules, doStorageDir: files.doStorage,
    address: `127.0.0.1:${port}`, env, secretNames, maxCompatibilityDate: workerdPackage().compatibilityDate,
  }));

  const gatewayUrl = `http://127.0.0.1:${port}`;
  await step(`Starting the gateway on plain workerd at ${gatewayUrl}`, async () => {
    const workerd = await startWorkerd({ configPath: files.workerdConfig, cwd: root, env, logFile: path.join(files.logs, 'gateway.log') });
    supervise(workerd.child);
    await waitForHealthy(gatewayUrl, 15_000);
  }, () => 'ready');

  const seed = await step('Checking the demo key and node token', () => ensureSeeded(gatewayUrl, admin.token, admin.state),
    (s) => (s.seeded ? 'seeded a new demo key and node token' : `reusing them from ${shown(files.state)}`));
  writeState(files.state, seed.state);

  let agentUrl: string | null = null;
  if (!flags['no-agent']) agentUrl = await startAgent(gatewayUrl, seed.state.nodeToken.token, seed.state.demoKey.key);
  printSummary({ gatewayUrl, demoKey: seed.state.demoKey.key, adminTokenSource: admin.source, agentUrl, logDir: shown(files.logs), chatModel: CHAT_MODEL });
}

async function startAgent(gatewayUrl: string, nodeToken: string, demoKey: string): Promise<string> {
  const agentMain = path.join(root, 'gpu-node', 'bin', 'gpu-node.js');
  if (!fs.existsSync(agentMain)) throw new StartError(`the node agent (${shown(agentMain)}) is missing; run \`npm start -- --no-agent\` for the gateway alone`);
  const agentPort = await pickPort(8100);
  const chatPort = await pickPort(8001);
  const embedPort = await pickPort(chatPort === 8001 ? 8002 : chatPort + 1);
  writeAgentConfig(files.agentConfig, { gatewayUrl, nodeToken, agentPort, chatPort, embedPort, logDir: files.logs });
  const logFile = path.join(files.logs, 'agent.log');
  supervise(spawnManaged('the node agent', process.execPath, [agentMain, 'start', '--config', files.agentConfig], { cwd: root, env: process.env, logFile }));

  const wanted = [CHAT_MODEL, EMBED_MODEL];
  process.stdout.write(`Starting the node agent with two simulated engines (waiting for ${wanted.join(', ')})…`);
  try {
    await waitForModels(gatewayUrl, demoKey, wanted, MODELS_TIMEOUT_MS, (listed) => process.stdout.write(` ${listed.at(-1)} ✓`));
  } catch (error) {
    throw new StartError(`${error instanceof Error ? error.message : String(error)}.\nSee ${shown(logFile)} and the engine logs in ${shown(files.logs)}/:\n${tailLog(logFile)}`, { cause: error });
  }
  console.log(' ready');
  return `http://127.0.0.1:${agentPort}`;
}

function definedEntries(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

main().catch((error: unknown) => {
  if (stopping) return;
  console.error(`\n${error instanceof StartError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  void shutdown(1);
});
