/**
 * Runs a bundled gateway on plain workerd: writes the config generated from wrangler.toml for
 * that bundle, with its Durable Objects stored under `doStorageDir`, and starts workerd on it.
 * `npm start` and the gateway benchmark both come through here, so they serve the same thing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle } from './bundle.ts';
import { generateWorkerdConfig } from './workerd-config.ts';
import { startWorkerd, workerdPackage, type RunningWorkerd } from './workerd-process.ts';

export interface ServeGatewayOptions {
  wranglerToml: string;
  bundle: Bundle;
  /** Where the generated config is written; paths in it are relative to its folder. */
  configPath: string;
  doStorageDir: string;
  /** `host:port`; port 0 takes a free one. */
  address: string;
  /** Values for [vars] overrides and secrets. */
  env: NodeJS.ProcessEnv;
  secretNames: string[];
  cwd: string;
  logFile: string;
  /** A restart keeps the log of the run that crashed. */
  appendLog?: boolean;
}

/** Resolves once workerd listens (not yet once the Worker answers: see `waitForHealthy`). */
export async function serveGateway(options: ServeGatewayOptions): Promise<RunningWorkerd & { url: string }> {
  fs.mkdirSync(options.doStorageDir, { recursive: true });
  const config = generateWorkerdConfig({
    wranglerToml: options.wranglerToml,
    configDir: path.dirname(options.configPath),
    bundleDir: options.bundle.dir,
    modules: options.bundle.modules,
    doStorageDir: options.doStorageDir,
    address: options.address,
    env: options.env,
    secretNames: options.secretNames,
    maxCompatibilityDate: workerdPackage().compatibilityDate,
  });
  fs.writeFileSync(options.configPath, config);
  const workerd = await startWorkerd({
    configPath: options.configPath,
    cwd: options.cwd,
    env: options.env,
    logFile: options.logFile,
    appendLog: options.appendLog,
  });
  return { ...workerd, url: `http://127.0.0.1:${workerd.port}` };
}
