/**
 * The entry of the built agent (gpu-node/build.ts). The version check runs before the rest is
 * evaluated: the CLI comes in through a dynamic import, which the bundle keeps lazy, so an old
 * Node prints what to do instead of failing on some API deep inside.
 */
import { tooOldNodeMessage } from './node-version.ts';

const tooOld = tooOldNodeMessage(process.versions.node);
if (tooOld) {
  process.stderr.write(tooOld);
  process.exit(1);
}
const { runCli } = await import('./cli.ts');
await runCli(process.argv);
