/**
 * `npm start` keeps the system up: a gateway or agent that dies is started again while the rest
 * keeps running, and only Ctrl-C stops it all.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../gpu-node/index.ts';
import { startLocalSystem, type LocalSystem } from '../support/local-system.ts';
import { waitFor } from '../support/wait-for.ts';

let system: LocalSystem;

beforeAll(async () => {
  system = await startLocalSystem({ NODE_UNHEALTHY_AFTER_MS: '3000', NODE_EVICT_AFTER_MS: '20000' });
}, 120_000);

afterAll(async () => {
  if (system) expect(await system.stop()).toBe(0);
}, 60_000);

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

async function chatWorks(): Promise<boolean> {
  const res = await fetch(`${system.gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${system.demoKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'switchyard-sim-chat',
      messages: [{ role: 'user', content: 'still there?' }],
      max_tokens: 4,
    }),
  }).catch(() => null);
  return res?.status === 200;
}

describe('npm start supervises its children', () => {
  it('restarts a gateway that was killed, with its state, while the agent keeps running', async () => {
    const agent = system.agentPid();
    const [workerd] = system.processes().filter((pid) => / serve .*workerd\.capnp/.test(commandLine(pid)));
    expect(workerd).toBeDefined();
    process.kill(workerd!, 'SIGKILL');
    await waitFor(
      'the gateway to be restarted',
      () => {
        const now = system.processes().filter((pid) => / serve .*workerd\.capnp/.test(commandLine(pid)));
        return now.length === 1 && now[0] !== workerd;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await waitFor('a chat to work through the restarted gateway', chatWorks, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    expect(system.agentPid()).toBe(agent);
  }, 60_000);

  it('restarts an agent that was killed, and its engines serve again', async () => {
    const agent = system.agentPid();
    process.kill(agent, 'SIGKILL');
    await waitFor(
      'a new agent',
      () => {
        try {
          return system.agentPid() !== agent;
        } catch {
          return false;
        }
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(isAlive(agent)).toBe(false);
    await waitFor('a chat to work through the new agent', chatWorks, { timeoutMs: 45_000, intervalMs: 250 });
  }, 90_000);
});
