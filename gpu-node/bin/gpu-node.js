#!/usr/bin/env node
// `gpu-node` in a checkout: Node runs the TypeScript sources itself, which takes type stripping
// on by default (Node 22.18+, or 23.6+). Checked before the sources load, so an older Node says
// what to do instead of failing with ERR_UNKNOWN_FILE_EXTENSION. The built agent
// (npm run build:agent) needs no TypeScript and runs on Node 20.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18) || (major === 23 && minor < 6)) {
  process.stderr.write(
    `gpu-node: Node ${process.versions.node} cannot run the TypeScript sources in this checkout ` +
      '(they need Node 22.18 or newer). Run `npm run build:agent` and use dist/gpu-node/gpu-node.mjs, ' +
      'which runs on Node 20, or see docs/gpu-node.md for installing the built agent.\n',
  );
  process.exit(1);
}
const { runCli } = await import('../cli.ts');
await runCli(process.argv);
