import { describe, expect, it } from 'vitest';
import { YOUNG_GENERATION_FLAG, cappedYoungGenerationArgv } from '../../gpu-node/young-generation.ts';

describe('the agent re-executes itself with the young generation capped', () => {
  const node = '/usr/bin/node';
  const argv = [node, '/usr/lib/gpu-node.mjs', 'start', '--config', 'c.yaml'];

  it('adds the flag before the Node options it was started with, keeping the script and its arguments', () => {
    expect(cappedYoungGenerationArgv(node, ['--cpu-prof'], undefined, argv)).toEqual([
      node,
      YOUNG_GENERATION_FLAG,
      '--cpu-prof',
      '/usr/lib/gpu-node.mjs',
      'start',
      '--config',
      'c.yaml',
    ]);
  });

  it('keeps a size the owner chose, on the command line or in NODE_OPTIONS, and never loops', () => {
    expect(cappedYoungGenerationArgv(node, ['--max-semi-space-size=8'], undefined, argv)).toBeNull();
    expect(cappedYoungGenerationArgv(node, [], '--inspect --max_semi_space_size=16', argv)).toBeNull();
    const relaunched = cappedYoungGenerationArgv(node, [], undefined, argv)!;
    expect(cappedYoungGenerationArgv(node, relaunched.slice(1, 2), undefined, argv)).toBeNull();
  });
});
