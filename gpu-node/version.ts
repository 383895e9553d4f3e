/**
 * The agent's version: `gpu-node --version`, and what it reports at registration. The build
 * (gpu-node/build.ts) replaces this JSON import with the version alone, so the bundle carries
 * none of the repository's package.json besides it.
 */
import packageJson from '../package.json' with { type: 'json' };

export const AGENT_VERSION: string = packageJson.version;
