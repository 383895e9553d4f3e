import { afterEach, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../gpu-node/gateway-client.ts';
import type { GatewayError } from '../../gpu-node/gateway-http.ts';
import { FakeGateway } from '../support/fake-gateway.ts';
import { silentLogger } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

const ENGINE = { id: 'e1', kind: 'sim', model: 'm', state: 'ready', load: null, maxConcurrency: 4 } as const;

let gateway: FakeGateway;
let client: GatewayClient;
afterEach(async () => {
  await client.stop();
  await gateway.close();
});

async function connect(retry = { baseMs: 100, capMs: 400, random: () => 1 }) {
  gateway = new FakeGateway(20);
  const failures: GatewayError[] = [];
  client = new GatewayClient({
    gatewayUrl: await gateway.start(),
    nodeToken: gateway.nodeToken,
    logger: silentLogger,
    timings: { retry, requestTimeoutMs: 1_000 },
    registration: async () => ({ name: 'box', url: 'http://127.0.0.1:1', engines: [ENGINE], gpus: [] }),
    heartbeat: async () => ({ engines: [ENGINE], gpus: [] }),
    failed: (error) => failures.push(error),
  });
  client.start();
  return failures;
}

describe('GatewayClient', () => {
  it('registers with the node token, then heartbeats with the credential it was given', async () => {
    await connect();
    await waitFor('three heartbeats', () => gateway.heartbeats().length >= 3);
    expect(gateway.callsTo('/nodes/register')[0]!.authorization).toBe('Bearer nt-test');
    expect(gateway.registrations()[0]).toMatchObject({ name: 'box', engines: [{ id: 'e1' }] });
    expect(client.credential).toBe('cred-1');
    expect(gateway.callsTo('/nodes/heartbeat').every((call) => call.authorization === 'Bearer cred-1')).toBe(
      true,
    );
  });

  it('registers again after a heartbeat is answered 401 node_unknown, and beats with the new credential', async () => {
    const failures = await connect();
    await waitFor('first heartbeat', () => gateway.heartbeats().length >= 1);
    gateway.forgetNode();
    await waitFor('second registration', () => gateway.registrations().length === 2);
    await waitFor('a heartbeat with the new credential', () =>
      gateway.callsTo('/nodes/heartbeat').some((call) => call.authorization === 'Bearer cred-2'),
    );
    expect(client.credential).toBe('cred-2');
    expect(failures).toHaveLength(0);
  });

  it('backs off (capped, not at the heartbeat rate) while the gateway is unreachable, then resumes', async () => {
    const failures = await connect();
    await waitFor('first heartbeat', () => gateway.heartbeats().length >= 1);
    gateway.down = true;
    const callsBefore = gateway.calls.length; // every later call is dropped
    // Five failed attempts: backoff 100, 200, 400, 400 ms apart (the last two at the cap).
    await waitFor('five failed attempts', () => failures.length >= 5, { timeoutMs: 3_000 });
    const attempts = gateway.calls.slice(callsBefore);
    expect(attempts.length).toBe(failures.length);
    const gaps = attempts.slice(1).map((call, i) => call.at - attempts[i]!.at);
    // At the 20 ms heartbeat rate the attempts would come ~20 ms apart.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(80);
    expect(gaps[1]!).toBeGreaterThan(gaps[0]! + 50);
    expect(Math.max(...gaps)).toBeLessThan(400 + 150);
    expect(failures[0]!.status).toBeNull();
    gateway.down = false;
    const before = gateway.heartbeats().length;
    await waitFor('heartbeats again', () => gateway.heartbeats().length >= before + 3);
  });

  it('counts a registration refused 400 for a malformed body as a failure, as from the real gateway', async () => {
    gateway = new FakeGateway(20);
    const failures: GatewayError[] = [];
    client = new GatewayClient({
      gatewayUrl: await gateway.start(),
      nodeToken: gateway.nodeToken,
      logger: silentLogger,
      timings: { retry: { baseMs: 100, capMs: 400, random: () => 1 }, requestTimeoutMs: 1_000 },
      registration: async () => ({ name: 'box', url: 'not a url', engines: [ENGINE], gpus: [] }),
      heartbeat: async () => ({ engines: [ENGINE], gpus: [] }),
      failed: (error) => failures.push(error),
    });
    client.start();
    await waitFor('a failed registration', () => failures.length >= 1);
    expect(failures[0]).toMatchObject({ status: 400, code: 'invalid_value' });
    expect(gateway.callsTo('/nodes/register')[0]!.error).toContain('url');
    expect(gateway.registrations()).toHaveLength(0);
    expect(client.credential).toBeNull();
  });

  it('drains and deregisters with the credential', async () => {
    await connect();
    await waitFor('registered', () => client.credential !== null);
    await client.drain();
    await client.deregister();
    expect(gateway.callsTo('/nodes/drain')[0]!.authorization).toBe('Bearer cred-1');
    expect(gateway.callsTo('/nodes/deregister')[0]!.authorization).toBe('Bearer cred-1');
    expect(client.credential).toBeNull();
  });
});

describe('GatewayClient.beatSoon', () => {
  it('sends a heartbeat at once instead of waiting out the interval', async () => {
    gateway = new FakeGateway(60_000); // an interval no test would wait for
    client = new GatewayClient({
      gatewayUrl: await gateway.start(),
      nodeToken: gateway.nodeToken,
      logger: silentLogger,
      timings: { retry: { baseMs: 100, capMs: 400, random: () => 1 }, requestTimeoutMs: 1_000 },
      registration: async () => ({ name: 'box', url: 'http://127.0.0.1:1', engines: [ENGINE], gpus: [] }),
      heartbeat: async () => ({ engines: [ENGINE], gpus: [] }),
    });
    client.start();
    await waitFor('registration', () => client.credential !== null);
    expect(gateway.heartbeats()).toHaveLength(0);
    client.beatSoon();
    await waitFor('a heartbeat', () => gateway.heartbeats().length === 1);
    client.beatSoon();
    await waitFor('a second heartbeat', () => gateway.heartbeats().length === 2);
  });
});
