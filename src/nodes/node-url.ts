/**
 * Which base URLs a node may register: the gateway will send API traffic (and the node's
 * credential) there, so a node must not be able to point it at the gateway's own network —
 * loopback, private ranges, link-local (cloud metadata at 169.254.169.254), or names that mean
 * the same. Deployed, only https to a public address is accepted; a self-hosted gateway whose
 * nodes sit on a LAN (and the local `npm start`) allows private addresses explicitly.
 * Names that resolve to private addresses cannot be checked here (the Workers runtime has no
 * DNS API); on Cloudflare's network such fetches cannot reach private ranges anyway.
 */
export interface NodeUrlPolicy {
  allowPrivate: boolean;
}

const BLOCKED_NAMES = [/^localhost$/i, /\.localhost$/i, /\.internal$/i, /\.local$/i, /^metadata$/i];

/** The reason `url` may not be a node's URL under `policy`, or null when it may. */
export function nodeUrlProblem(url: string, policy: NodeUrlPolicy): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'it is not a URL';
  }
  if (parsed.username || parsed.password) return 'it carries credentials';
  if (policy.allowPrivate) return null;
  if (parsed.protocol !== 'https:')
    return 'it is not https (set ALLOW_PRIVATE_NODE_URLS for a private network)';
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (BLOCKED_NAMES.some((name) => name.test(host)) || isPrivateAddress(host)) {
    return `${host} is a loopback, private, link-local or metadata address`;
  }
  return null;
}

function isPrivateAddress(host: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      a >= 224
    );
  }
  if (!host.includes(':')) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  if (mapped) return isPrivateAddress(mapped[1]!);
  return (
    host === '::' ||
    host === '::1' ||
    /^f[cd]/.test(host) ||
    /^fe[89ab]/.test(host) ||
    host.startsWith('::ffff:')
  );
}
