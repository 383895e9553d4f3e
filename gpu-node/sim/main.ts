/**
 * Process entry for supervisors and scripts:
 *   node gpu-node/sim/main.ts --served-model-name demo --port 8001 [flags]
 * Bad flags print a readable message and exit non-zero.
 */
import { parseSimArgs, runSimulator, SimError } from './index.ts';

try {
  await runSimulator(parseSimArgs(process.argv.slice(2)));
} catch (error) {
  if (!(error instanceof SimError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}
