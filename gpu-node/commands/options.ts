/** Flags more than one command takes, parsed one way. */
import { InvalidArgumentError } from 'commander';
import type { Listen } from '../port-claims.ts';

/** Where `init` writes and the other commands read, unless `--config` says otherwise. */
export const DEFAULT_CONFIG = 'gpu-node.yaml';
export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9464';
/** The variable `init` tells owners to keep the node token in (a flag shows in `ps`). */
export const NODE_TOKEN_ENV = 'SWITCHYARD_NODE_TOKEN';
export const DEFAULT_UNIT_PATH = '/etc/systemd/system/gpu-node.service';

/** `host:port`, a bare port (on 127.0.0.1), or `off` (null). */
export function parseListen(value: string): Listen | null {
  if (value === 'off') return null;
  const match = /^(?:(.*):)?(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new InvalidArgumentError('expected host:port, a port, or "off"');
  return { host: match[1] || '127.0.0.1', port };
}
