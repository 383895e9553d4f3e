#!/usr/bin/env node
// A JavaScript shim so `npx gpu-node` and the package's bin work; Node ≥ 22.18 runs the .ts itself.
import { runCli } from '../cli.ts';

await runCli(process.argv);
