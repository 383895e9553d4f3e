/**
 * The chart for docs/routing.md: mean and p99 time to first token, and the engines' prefix-cache
 * hit rate, against load (concurrent conversations), one line per policy, drawn into a PNG.
 */
import { Canvas, type Color } from './canvas.ts';
import type { Results } from './report.ts';
import type { Summary } from './stats.ts';

const WHITE: Color = [255, 255, 255];
const INK: Color = [40, 40, 40];
const GRID: Color = [225, 225, 225];
const POLICY_COLORS: Record<string, Color> = {
  'round-robin': [120, 120, 120],
  random: [180, 140, 90],
  'least-loaded': [60, 120, 200],
  'min-expected-latency': [150, 90, 180],
  affinity: [220, 80, 30],
};

const PANELS: Array<{ title: string; value: (s: Summary) => number; format: (v: number) => string }> = [
  { title: 'mean ttft (ms)', value: (s) => s.meanTtftMs, format: (v) => v.toFixed(0) },
  { title: 'p99 ttft (ms)', value: (s) => s.p99TtftMs, format: (v) => v.toFixed(0) },
  { title: 'prefix-cache hit rate (%)', value: (s) => s.hitRate * 100, format: (v) => v.toFixed(0) },
];

const PANEL_WIDTH = 420;
const PANEL_HEIGHT = 330;
const MARGIN = { left: 64, right: 18, top: 40, bottom: 46 };
const LEGEND_HEIGHT = 44;

export function drawTtftChart(results: Results): Buffer {
  const levels = [...results.keys()];
  const policies = [...new Set([...results.values()].flatMap((row) => [...row.keys()]))];
  const canvas = new Canvas(PANEL_WIDTH * PANELS.length, PANEL_HEIGHT + LEGEND_HEIGHT, WHITE);
  drawLegend(canvas, policies);
  PANELS.forEach((panel, i) =>
    drawPanel(canvas, i * PANEL_WIDTH, LEGEND_HEIGHT, panel, levels, policies, results),
  );
  return canvas.png();
}

function drawLegend(canvas: Canvas, policies: string[]): void {
  let x = 20;
  for (const policy of policies) {
    const color = POLICY_COLORS[policy] ?? INK;
    canvas.line(x, 22, x + 28, 22, color, policy === 'affinity' ? 4 : 2);
    canvas.text(x + 36, 15, policy, INK);
    x += 36 + canvas.textWidth(policy) + 30;
  }
}

function drawPanel(
  canvas: Canvas,
  left: number,
  top: number,
  panel: (typeof PANELS)[number],
  levels: number[],
  policies: string[],
  results: Results,
): void {
  const plot = {
    x: left + MARGIN.left,
    y: top + MARGIN.top,
    w: PANEL_WIDTH - MARGIN.left - MARGIN.right,
    h: PANEL_HEIGHT - MARGIN.top - MARGIN.bottom,
  };
  const values = levels.flatMap((level) =>
    policies
      .map((p) => results.get(level)?.get(p))
      .filter((s) => s !== undefined)
      .map(panel.value),
  );
  const yMax = niceCeiling(Math.max(1, ...values.filter(Number.isFinite)));
  const xOf = (i: number) => plot.x + (levels.length === 1 ? plot.w / 2 : (plot.w * i) / (levels.length - 1));
  const yOf = (v: number) => plot.y + plot.h - (plot.h * v) / yMax;

  canvas.text(left + PANEL_WIDTH / 2, top + 8, panel.title, INK, 2, 'center');
  for (let tick = 0; tick <= 4; tick++) {
    const value = (yMax * tick) / 4;
    canvas.line(plot.x, yOf(value), plot.x + plot.w, yOf(value), GRID);
    canvas.text(plot.x - 8, yOf(value) - 7, panel.format(value), INK, 2, 'right');
  }
  canvas.line(plot.x, plot.y, plot.x, plot.y + plot.h, INK);
  canvas.line(plot.x, plot.y + plot.h, plot.x + plot.w, plot.y + plot.h, INK);
  levels.forEach((level, i) => canvas.text(xOf(i), plot.y + plot.h + 8, String(level), INK, 2, 'center'));
  canvas.text(plot.x + plot.w / 2, plot.y + plot.h + 28, 'concurrent conversations', INK, 2, 'center');

  for (const policy of policies) {
    const color = POLICY_COLORS[policy] ?? INK;
    const thickness = policy === 'affinity' ? 4 : 2;
    const points = levels.map((level, i) => {
      const summary = results.get(level)?.get(policy);
      return summary && Number.isFinite(panel.value(summary))
        ? { x: xOf(i), y: yOf(panel.value(summary)) }
        : null;
    });
    points.forEach((point, i) => {
      const next = points[i + 1];
      if (point && next) canvas.line(point.x, point.y, next.x, next.y, color, thickness);
      if (point) canvas.fillRect(point.x - 4, point.y - 4, 9, 9, color);
    });
  }
}

/** 1, 2 or 5 times a power of ten, at or above `value`: round gridline labels. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= value)!;
}
