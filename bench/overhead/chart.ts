/**
 * Grouped bar charts for docs/performance.md, drawn with bench/routing's canvas and PNG
 * writer: one panel per figure, one group of bars per x value, one bar per series.
 */
import { Canvas, type Color } from '../routing/canvas.ts';

const WHITE: Color = [255, 255, 255];
const INK: Color = [40, 40, 40];
const GRID: Color = [225, 225, 225];
const PALETTE: Color[] = [
  [120, 120, 120],
  [60, 120, 200],
  [220, 80, 30],
  [150, 90, 180],
  [90, 160, 90],
];

export interface Panel {
  title: string;
  /** Labels of the groups along the x axis. */
  groups: string[];
  xLabel: string;
  /** series name → one value per group (NaN: no bar). */
  values: Map<string, number[]>;
  log?: boolean;
  format?: (value: number) => string;
}

const PANEL_WIDTH = 460;
const PANEL_HEIGHT = 340;
const MARGIN = { left: 70, right: 16, top: 40, bottom: 50 };
const LEGEND_HEIGHT = 44;

export function drawBarCharts(panels: Panel[], columns = 2): Buffer {
  const series = [...new Set(panels.flatMap((panel) => [...panel.values.keys()]))];
  const colors = new Map(series.map((name, i) => [name, PALETTE[i % PALETTE.length]!]));
  const rows = Math.ceil(panels.length / columns);
  const canvas = new Canvas(PANEL_WIDTH * columns, LEGEND_HEIGHT + PANEL_HEIGHT * rows, WHITE);
  let x = 20;
  for (const name of series) {
    canvas.fillRect(x, 14, 22, 16, colors.get(name)!);
    canvas.text(x + 30, 15, name, INK);
    x += 30 + canvas.textWidth(name) + 30;
  }
  panels.forEach((panel, i) =>
    drawPanel(
      canvas,
      (i % columns) * PANEL_WIDTH,
      LEGEND_HEIGHT + Math.floor(i / columns) * PANEL_HEIGHT,
      panel,
      colors,
    ),
  );
  return canvas.png();
}

function drawPanel(
  canvas: Canvas,
  left: number,
  top: number,
  panel: Panel,
  colors: Map<string, Color>,
): void {
  const plot = {
    x: left + MARGIN.left,
    y: top + MARGIN.top,
    w: PANEL_WIDTH - MARGIN.left - MARGIN.right,
    h: PANEL_HEIGHT - MARGIN.top - MARGIN.bottom,
  };
  const format = panel.format ?? ((v: number) => (v >= 100 ? v.toFixed(0) : v.toPrecision(2)));
  const all = [...panel.values.values()].flat().filter((v) => Number.isFinite(v) && v > 0);
  const max = Math.max(...all, 1e-9);
  let scale: (v: number) => number;
  let ticks: number[];
  if (panel.log) {
    const low = 10 ** Math.floor(Math.log10(Math.min(...all, max)));
    const high = 10 ** Math.ceil(Math.log10(max));
    scale = (v) => (Math.log10(Math.max(v, low)) - Math.log10(low)) / (Math.log10(high) - Math.log10(low));
    ticks = [];
    for (let t = low; t <= high * 1.0001; t *= 10) ticks.push(t);
  } else {
    const ceiling = niceCeiling(max);
    scale = (v) => v / ceiling;
    ticks = [0, 1, 2, 3, 4].map((i) => (ceiling * i) / 4);
  }
  const yOf = (v: number) => plot.y + plot.h - plot.h * Math.min(1, Math.max(0, scale(v)));

  canvas.text(left + PANEL_WIDTH / 2, top + 8, panel.title, INK, 2, 'center');
  for (const tick of ticks) {
    canvas.line(plot.x, yOf(tick), plot.x + plot.w, yOf(tick), GRID);
    canvas.text(plot.x - 8, yOf(tick) - 7, format(tick), INK, 2, 'right');
  }
  canvas.line(plot.x, plot.y, plot.x, plot.y + plot.h, INK);
  canvas.line(plot.x, plot.y + plot.h, plot.x + plot.w, plot.y + plot.h, INK);

  const series = [...panel.values.keys()];
  const groupWidth = plot.w / panel.groups.length;
  const barWidth = Math.max(4, Math.floor((groupWidth * 0.8) / series.length));
  panel.groups.forEach((group, g) => {
    const groupLeft = plot.x + g * groupWidth + groupWidth * 0.1;
    series.forEach((name, s) => {
      const value = panel.values.get(name)![g]!;
      if (!Number.isFinite(value)) return;
      const y = yOf(value);
      canvas.fillRect(groupLeft + s * barWidth, y, barWidth - 2, plot.y + plot.h - y, colors.get(name)!);
    });
    canvas.text(plot.x + (g + 0.5) * groupWidth, plot.y + plot.h + 8, group, INK, 2, 'center');
  });
  canvas.text(plot.x + plot.w / 2, plot.y + plot.h + 30, panel.xLabel, INK, 2, 'center');
}

/** 1, 2 or 5 times a power of ten, at or above `value`. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= value)!;
}
