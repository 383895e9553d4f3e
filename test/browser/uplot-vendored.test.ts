/** The uPlot the Worker serves is the installed package's build, byte for byte (`npm run dashboard:uplot`). */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  UPLOT_CSS,
  UPLOT_JS,
  UPLOT_VERSION,
} from '../../workers/gateway/dashboard/assets/uplot.generated.ts';

const dist = path.resolve(import.meta.dirname, '../../node_modules/uplot/dist');

describe('the dashboard’s copy of uPlot', () => {
  it('is the installed package’s browser build; run `npm run dashboard:uplot` after upgrading it', () => {
    const installed = JSON.parse(fs.readFileSync(path.join(dist, '../package.json'), 'utf8')) as {
      version: string;
    };
    expect(UPLOT_VERSION).toBe(installed.version);
    expect(UPLOT_JS).toBe(fs.readFileSync(path.join(dist, 'uPlot.iife.min.js'), 'utf8'));
    expect(UPLOT_CSS).toBe(fs.readFileSync(path.join(dist, 'uPlot.min.css'), 'utf8'));
  });
});
