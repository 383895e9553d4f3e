/**
 * `gpu-node init`: enrolment in one step. With `--gateway` and a node token (`--token`, or
 * SWITCHYARD_NODE_TOKEN in the environment, which keeps it out of shell history and `ps`), it
 * writes a working configuration for the engines named by `--engine`, with the binaries and GPUs
 * it found; `--example` writes the commented example with every field instead.
 */
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parseCredential } from '../../src/credentials.ts';
import { parse as parseYaml } from 'yaml';
import { ConfigError, exampleConfig, parseAgentConfig } from '../config.ts';
import {
  describeMachine,
  detectMachine,
  type EngineRequest,
  enrolmentConfig,
  guessPublicHost,
} from '../enrol.ts';
import type { Listen } from '../port-claims.ts';
import { NODE_TOKEN_ENV } from './options.ts';

export interface InitOptions {
  output: string;
  force?: boolean;
  example?: boolean;
  gateway?: string;
  token?: string;
  engine: EngineRequest[];
  name?: string;
  listen: Listen;
  publicUrl?: string;
}

export async function initConfig(options: InitOptions): Promise<void> {
  const text = options.example ? exampleConfig : await enrolment(options);
  try {
    await writeFile(options.output, text, { flag: options.force ? 'w' : 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new ConfigError(`${options.output} exists; pass --force to overwrite it`, { cause: error });
  }
  const check = `gpu-node check --config ${options.output}`;
  process.stdout.write(
    options.example
      ? `wrote the example ${options.output}; edit it, then: ${check}\n`
      : `wrote ${options.output} (readable by you only: it holds the node token)\nnext: ${check}\n`,
  );
}

async function enrolment(options: InitOptions): Promise<string> {
  const problems: string[] = [];
  const token = options.token ?? process.env[NODE_TOKEN_ENV];
  if (!options.gateway) problems.push('--gateway URL: the gateway to register with (or --example)');
  if (!token) problems.push(`--token or ${NODE_TOKEN_ENV}: the node token (snt-…) from the gateway operator`);
  else if (parseCredential(token)?.kind !== 'nodeToken')
    problems.push('the node token should look like snt-<id>.<secret>; copy it whole from the operator');
  if (options.engine.length === 0) problems.push('--engine KIND=MODEL: at least one engine to serve');
  const machine = await detectMachine();
  for (const line of describeMachine(machine)) process.stdout.write(`${line}\n`);
  if (problems.length > 0) throw new ConfigError('gpu-node init needs:', { problems });
  for (const { kind } of options.engine) {
    if (kind !== 'sim' && machine.engines[kind] === null)
      process.stdout.write(`warning: no ${kind} found; set its command in the file, or install it\n`);
  }
  const publicUrl = options.publicUrl ?? `http://${guessPublicHost()}:${options.listen.port}`;
  if (!options.publicUrl)
    process.stdout.write(`the gateway will call this node at ${publicUrl}; --public-url changes it\n`);
  const text = await enrolmentConfig({
    gatewayUrl: options.gateway!,
    nodeToken: token!,
    name: options.name ?? hostname(),
    listen: options.listen,
    publicUrl,
    engines: options.engine,
    machine,
  });
  // What is written must load: a bad --gateway or --public-url is reported now, not at start.
  parseAgentConfig(parseYaml(text), { env: {}, source: 'the configuration from these flags' });
  return text;
}
