/**
 * The systemd unit that runs the agent, written by `gpu-node install-service` with absolute
 * paths resolved on this machine (the Node running the command, the gpu-node it ran, the config),
 * so nothing depends on the service's shorter PATH. No comment shares a line with a value:
 * systemd takes such a comment as part of the value. `systemd-analyze verify` passes it (a test
 * checks).
 */

export interface UnitInput {
  /** The Node binary (process.execPath of the installing command). */
  node: string;
  /** The gpu-node script: bin/gpu-node.js in a checkout, the bundle when installed. */
  cli: string;
  /** Absolute path of the configuration. */
  config: string;
  user: string;
  workingDirectory: string;
  /** The config's drainTimeoutMs: the stop timeout must exceed a full drain. */
  drainTimeoutMs: number;
  agentVersion: string;
}

/**
 * Worst case a stop takes drainTimeoutMs + 10 s (drain call) + 10 s (deregister call) + 15 s
 * (engine grace); a margin on top, so systemd's SIGKILL comes only when something hangs.
 */
function stopTimeoutSeconds(drainTimeoutMs: number): number {
  return Math.ceil(drainTimeoutMs / 1000) + 35 + 25;
}

/** A path setting (WorkingDirectory=): taken as written, after `%` specifiers; no quotes. */
function path(value: string): string {
  return value.replaceAll('%', '%%');
}

/** One ExecStart word: `%` and `$` escaped (systemd expands both), quoted if it has blanks or quotes. */
function word(value: string): string {
  const escaped = path(value).replaceAll('$', '$$$$');
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : escaped;
}

export function systemdUnit(input: UnitInput): string {
  const start = [input.node, input.cli, 'start', '--config', input.config].map(word).join(' ');
  return `# Written by \`gpu-node install-service\` (agent ${input.agentVersion}).
# Reload after editing: systemctl daemon-reload && systemctl restart gpu-node
[Unit]
Description=Switchyard GPU node agent
After=network-online.target nvidia-persistenced.service
Wants=network-online.target
# While the gateway is unreachable the agent keeps retrying inside; never stop restarting it.
StartLimitIntervalSec=0

[Service]
Type=exec
User=${input.user}
WorkingDirectory=${path(input.workingDirectory)}
ExecStart=${start}
# SIGHUP restarts engines that are in crashloop.
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM to the agent alone, so it drains before it stops its engines; whatever is still in the
# unit's cgroup afterwards (the agent was SIGKILLed, say) is killed.
KillMode=mixed
KillSignal=SIGTERM
# Longer than a full drain: drainTimeoutMs + 35 s of calls and engine grace, plus a margin.
TimeoutStopSec=${stopTimeoutSeconds(input.drainTimeoutMs)}
Restart=on-failure
RestartSec=5
# 2: the configuration is wrong; 3: the gateway refused the node token. A restart fixes neither.
RestartPreventExitStatus=2 3
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
`;
}
