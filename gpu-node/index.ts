/**
 * What the rest of the repository (`npm start`, benchmarks, tests) may use of the node side:
 * the engine simulator and the process helpers. Everything else under gpu-node/ is the agent's
 * own business; reach it through the `gpu-node` command.
 */
export { runSimulator, startSimulator, type RunningSimulator, type SimOptions } from './sim/index.ts';
export { fullJitterDelay } from './backoff.ts';
export { onOrphaned } from './processes/parent-watch.ts';
export { freePort, isPortFree, pickPort } from './processes/ports.ts';
export { descendantsOf, isAlive } from './processes/process-tree.ts';
export { groupAlive, signalGroup, terminateGroup, waitForGroupExit } from './processes/process-group.ts';
