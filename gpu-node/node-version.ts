/**
 * The oldest Node the built agent runs on: AbortSignal.any (the gateway client, the supervisor)
 * arrived in 20.3, zlib.crc32 (the simulator's images) in 20.15. Tests run the bundle on 20 and
 * 22. Kept free of imports, so the bundle's entry can check it before anything else is evaluated.
 */
export const MIN_NODE_VERSION = '20.15.0';

/** Null when `version` (e.g. "20.11.1") is new enough, else the message to print. */
export function tooOldNodeMessage(version: string): string | null {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [minMajor = 0, minMinor = 0] = MIN_NODE_VERSION.split('.').map(Number);
  if (major > minMajor || (major === minMajor && minor >= minMinor)) return null;
  return (
    `gpu-node: Node ${version} is too old; the agent needs Node ${MIN_NODE_VERSION} or newer ` +
    '(any Node 20 or 22 LTS release will do: https://nodejs.org/en/download).\n'
  );
}
