/**
 * `gpu-node install-service`: writes the systemd unit for this machine (systemd-unit.ts) and
 * says how to enable it. It does not run systemctl itself: the owner sees the unit first.
 */
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { CLI_PATH } from '../cli-path.ts';
import { loadAgentConfig } from '../config.ts';
import { systemdUnit } from '../systemd-unit.ts';
import { AGENT_VERSION } from '../version.ts';

export async function installService(options: {
  config: string;
  user?: string;
  output: string;
}): Promise<void> {
  const configPath = resolve(options.config);
  const config = await loadAgentConfig(configPath);
  const unit = systemdUnit({
    node: process.execPath,
    cli: CLI_PATH,
    config: configPath,
    user: options.user ?? userInfo().username,
    workingDirectory: dirname(configPath),
    drainTimeoutMs: config.drainTimeoutMs,
    agentVersion: AGENT_VERSION,
  });
  await writeFile(options.output, unit, { mode: 0o644 });
  const name = options.output
    .split('/')
    .pop()!
    .replace(/\.service$/, '');
  process.stdout.write(
    `wrote ${options.output}\nnext: systemctl daemon-reload && systemctl enable --now ${name}\n` +
      `then: journalctl -u ${name} -f   (and gpu-node status --config ${configPath})\n`,
  );
}
