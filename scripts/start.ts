/**
 * `npm start`: the whole system on one machine, no account. Bundles the Worker with wrangler,
 * runs it on plain workerd with its Durable Objects on local disk, seeds a demo key and a node
 * token on first start, and runs a node agent with two engine simulators beside it.
 * Everything it keeps lives in .switchyard/ (`--fresh` wipes it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorker } from './bundle.ts';
import { isPortFree } from '../gpu-node/index.ts';
import { CHAT_MODEL, startLocalAgent } from './local-agent.ts';
import { readDevVars, readState, resolveAdminToken, writeState } from './local-state.ts';
import { ensureSeeded, waitForHealthy } from './seed-gateway.ts';
import { StartError } from './start-error.ts';
import { mintSignInLink, printSummary } from './start-summary.ts';
import { createSupervisor } from './supervisor.ts';
import { serveGateway } from './serve-gateway.ts';
import { parseWranglerToml } from './workerd-config.ts';

/** Not wrangler dev's 8787, so `npm start` and `npm run dev` can run side by side. */
const DEFAULT_PORT = 8080;

const root = path.resolve(import.meta.dirname, '..');
/** SWITCHYARD_HOME moves all local state elsewhere (the end-to-end tests use a temporary one). */
const home = path.resolve(process.env.SWITCHYARD_HOME ?? path.join(root, '.switchyard'));
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
  options: {
    fresh: { type: 'boolean', default: false },
    'no-agent': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(`Usage: npm start [-- --fresh] [-- --no-agent]

  --fresh     wipe .switchyard/ (Durable Object storage, demo key, generated admin token) first
  --no-agent  run the gateway only, without the local node agent and its simulated engines

Environment: PORT (gateway port, default ${DEFAULT_PORT}), SWITCHYARD_HOME (state folder, default .switchyard),
ADMIN_TOKEN, and any [vars] entry of wrangler.toml.`);
  process.exit(0);
}

const supervisor = createSupervisor();

async function step<T>(label: string, run: () => Promise<T>, detail: (result: T) => string): Promise<T> {
  process.stdout.write(`${label}… `);
  const started = Date.now();
  const result = await run();
  console.log(`${detail(result)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return result;
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StartError(`PORT must be a port number, got ${process.env.PORT}`);
  }
  if (!(await isPortFree(port))) {
    throw new StartError(`port ${port} on 127.0.0.1 is in use; choose another with PORT=<port> npm start`);
  }
  if (flags.fresh) fs.rmSync(home, { recursive: true, force: true });
  for (const dir of [home, files.doStorage, files.logs]) fs.mkdirSync(dir, { recursive: true });

  const wranglerToml = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
  const toml = parseWranglerToml(wranglerToml);
  const bundle = await step(
    'Bundling the Worker (wrangler deploy --dry-run)',
    () => bundleWorker(root, files.bundle, toml.main),
    (b) =>
      `${b.modules.length === 1 ? '1 module' : `${b.modules.length} modules`}, ${Math.round(b.bytes / 1024)} KiB`,
  );

  const devVars = readDevVars(path.join(root, '.dev.vars'));
  const admin = resolveAdminToken(process.env, devVars, readState(files.state), shown(files.state));
  writeState(files.state, admin.state);
  // .dev.vars entries override [vars] as under wrangler dev; the environment overrides both.
  // Nodes here are on loopback: allowed explicitly, as a deployed gateway would refuse them.
  const env: NodeJS.ProcessEnv = {
    ALLOW_PRIVATE_NODE_URLS: 'true',
    ...devVars,
    ...process.env,
    ADMIN_TOKEN: admin.token,
  };
  const extraSecrets = Object.keys(devVars).filter((name) => !(name in toml.vars));
  const missing = toml.secrets.required.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new StartError(
      `wrangler.toml requires the secrets ${missing.join(', ')}: set them in the environment or .dev.vars`,
    );
  }
  const gatewayUrl = `http://127.0.0.1:${port}`;
  await step(
    `Starting the gateway on plain workerd at ${gatewayUrl}`,
    async () => {
      const serve = (appendLog: boolean) =>
        serveGateway({
          wranglerToml,
          bundle,
          configPath: files.workerdConfig,
          doStorageDir: files.doStorage,
          address: `127.0.0.1:${port}`,
          env,
          secretNames: ['ADMIN_TOKEN', ...extraSecrets],
          cwd: root,
          logFile: path.join(files.logs, 'gateway.log'),
          appendLog,
        });
      const workerd = await serve(false);
      // State is on disk: a restarted gateway knows every key and node; agents re-register if they must.
      supervisor.supervise(workerd.child, 5000, async () => (await serve(true)).child);
      await waitForHealthy(gatewayUrl, 15_000);
    },
    () => 'ready',
  );

  const seed = await step(
    'Checking the demo key and node token',
    () => ensureSeeded(gatewayUrl, admin.token, admin.state),
    (s) => (s.seeded ? 'seeded a new demo key and node token' : `reusing them from ${shown(files.state)}`),
  );
  writeState(files.state, seed.state);

  const agentUrl = flags['no-agent']
    ? null
    : await startLocalAgent({
        root,
        configFile: files.agentConfig,
        logDir: files.logs,
        gatewayUrl,
        nodeToken: seed.state.nodeToken.token,
        demoKey: seed.state.demoKey.key,
        supervisor,
      });
  printSummary({
    gatewayUrl,
    signInLink: await mintSignInLink(gatewayUrl, admin.token),
    demoKey: seed.state.demoKey.key,
    adminTokenSource: admin.source,
    agentUrl,
    logDir: shown(files.logs),
    chatModel: CHAT_MODEL,
  });
}

main().catch((error: unknown) => {
  if (supervisor.stopping) return;
  const message =
    error instanceof StartError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  console.error(`\n${message.charAt(0).toUpperCase()}${message.slice(1)}`);
  void supervisor.shutdown(1);
});
