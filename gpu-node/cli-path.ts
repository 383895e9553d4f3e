/**
 * The file that holds the `gpu-node` command, so the agent can start another copy of itself
 * (the simulator runs as `gpu-node sim`). In a checkout that is the shim bin/gpu-node.js; in the
 * built agent (gpu-node/build.ts) every module, this one included, lives in that one file.
 */
import { fileURLToPath } from 'node:url';

export const CLI_PATH = fileURLToPath(
  import.meta.url.endsWith('.ts') ? new URL('./bin/gpu-node.js', import.meta.url) : import.meta.url,
);
