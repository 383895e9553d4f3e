/**
 * Vitest global setup for the worker tests: starts the fake node (a stand-in for the agent)
 * on a free loopback port and hands its URL to the tests.
 */
import type { TestProject } from 'vitest/node';
import { startFakeNode } from '../support/fake-node.ts';
import type {} from './provided-context.d.ts';

export default async function setup(project: TestProject) {
  const node = await startFakeNode();
  project.provide('fakeNodeUrl', node.url);
  return () => node.close();
}
