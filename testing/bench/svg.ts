/**
 * A tiny SVG chart writer (line charts with min/max whiskers, grouped bar charts): enough for the
 * bench plots without a plotting dependency. Pure: data in, SVG text out.
 */

export interface Point {
  x: number;
  y: number;
  min?: number;
  max?: number;
}

export interface Series {
  name: string;
  points: Point[];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Plot x on a log10 axis (member counts 1…200 read better that way). */
  logX?: boolean;
  /** A dashed horizontal line, such as a target. */
  reference?: { value: number; label: string };
  note?: string;
}

export interface Bar {
  name: string;
  value: number;
  min?: number;
  max?: number;
}

export interface BarChart {
  title: string;
  yLabel: string;
  groups: { label: string; bars: Bar[] }[];
  /** A dashed horizontal line, such as a target. */
  reference?: { value: number; label: string };
  /** Slant the group labels, for many groups. */
  slantLabels?: boolean;
  note?: string;
}

const WIDTH = 640;
const HEIGHT = 360;
const PAD = { left: 64, right: 16, top: 36, bottom: 64 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

/** Round tick values (1, 2 or 5 × 10^k) from 0 up to at least max. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v < max + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  if ((ticks.at(-1) ?? 0) < max) ticks.push(Number((ticks.length * step).toPrecision(12)));
  return ticks;
}

export function formatTick(v: number): string {
  if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential(0);
  return Number(v.toPrecision(4)).toString();
}

const text = (x: number, y: number, body: string, attrs = '') =>
  `<text x="${r(x)}" y="${r(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(body)}</text>`;
const line = (x1: number, y1: number, x2: number, y2: number, attrs: string) =>
  `<line x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" ${attrs}/>`;
const r = (v: number) => Math.round(v * 10) / 10;

function frame(title: string, yLabel: string, body: string[], note?: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    text(WIDTH / 2, 20, title, 'text-anchor="middle" font-size="14" font-weight="bold"'),
    text(
      14,
      PAD.top + (HEIGHT - PAD.top - PAD.bottom) / 2,
      yLabel,
      `text-anchor="middle" transform="rotate(-90 14 ${r(PAD.top + (HEIGHT - PAD.top - PAD.bottom) / 2)})"`,
    ),
    ...body,
    ...(note ? [text(PAD.left, HEIGHT - 6, note, 'fill="#555" font-size="10"')] : []),
    '</svg>',
    '',
  ].join('\n');
}

/** Y axis with grid lines; returns the body lines and the value → pixel mapping. */
function yAxis(maxValue: number): { lines: string[]; y: (v: number) => number } {
  const ticks = niceTicks(maxValue);
  const top = ticks.at(-1) as number;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + plotH - (Math.min(v, top) / top) * plotH;
  const lines = ticks.flatMap((t) => [
    line(PAD.left, y(t), WIDTH - PAD.right, y(t), 'stroke="#e5e5e5"'),
    text(PAD.left - 6, y(t) + 4, formatTick(t), 'text-anchor="end"'),
  ]);
  lines.push(
    line(PAD.left, PAD.top, PAD.left, PAD.top + plotH, 'stroke="#333"'),
    line(PAD.left, PAD.top + plotH, WIDTH - PAD.right, PAD.top + plotH, 'stroke="#333"'),
  );
  return { lines, y };
}

function legend(names: string[]): string[] {
  return names.flatMap((name, i) => {
    const x = PAD.left + 10 + i * 150;
    const color = COLORS[i % COLORS.length] as string;
    return [
      `<rect x="${x}" y="${HEIGHT - 30}" width="10" height="10" fill="${color}"/>`,
      text(x + 14, HEIGHT - 21, name),
    ];
  });
}

export function lineChart(chart: LineChart): string {
  const all = chart.series.flatMap((s) => s.points);
  const maxY = Math.max(...all.map((p) => p.max ?? p.y), chart.reference?.value ?? 0, 0);
  const xs = all.map((p) => p.x);
  const fx = (x: number) => (chart.logX ? Math.log10(Math.max(x, 1e-9)) : x);
  const [minX, maxX] = [Math.min(...xs.map(fx)), Math.max(...xs.map(fx))];
  // Room on both sides, so the first and last points and their labels stay inside the frame.
  const plotW = WIDTH - PAD.left - PAD.right - 40;
  const x = (v: number) => PAD.left + 20 + (maxX === minX ? plotW / 2 : ((fx(v) - minX) / (maxX - minX)) * plotW);
  const { lines, y } = yAxis(maxY * 1.1);
  const body = [...lines];
  const bottom = HEIGHT - PAD.bottom;
  for (const v of [...new Set(xs)].sort((a, b) => a - b))
    body.push(text(x(v), bottom + 14, formatTick(v), 'text-anchor="middle"'));
  body.push(text(PAD.left + (WIDTH - PAD.left - PAD.right) / 2, bottom + 28, chart.xLabel, 'text-anchor="middle"'));
  chart.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    body.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${r(x(p.x))},${r(y(p.y))}`).join(' ')}"/>`,
    );
    for (const p of pts) {
      if (p.min !== undefined && p.max !== undefined)
        body.push(
          line(x(p.x), y(p.min), x(p.x), y(p.max), `stroke="${color}"`),
          line(x(p.x) - 4, y(p.min), x(p.x) + 4, y(p.min), `stroke="${color}"`),
          line(x(p.x) - 4, y(p.max), x(p.x) + 4, y(p.max), `stroke="${color}"`),
        );
      body.push(
        `<circle cx="${r(x(p.x))}" cy="${r(y(p.y))}" r="3" fill="${color}"><title>${escapeXml(`${s.name} x=${p.x}: ${formatTick(p.y)}`)}</title></circle>`,
      );
    }
  });
  if (chart.reference) body.push(...referenceLine(chart.reference, y));
  body.push(...legend(chart.series.map((s) => s.name)));
  return frame(chart.title, chart.yLabel, body, chart.note);
}

function referenceLine(reference: { value: number; label: string }, y: (v: number) => number): string[] {
  const ry = y(reference.value);
  return [
    line(PAD.left, ry, WIDTH - PAD.right, ry, 'stroke="#d62728" stroke-dasharray="5,4"'),
    text(WIDTH - PAD.right - 2, ry - 4, reference.label, 'text-anchor="end" fill="#d62728"'),
  ];
}

export function barChart(chart: BarChart): string {
  const bars = chart.groups.flatMap((g) => g.bars);
  const maxY = Math.max(...bars.map((b) => b.max ?? b.value), chart.reference?.value ?? 0, 0);
  const { lines, y } = yAxis(maxY * 1.1);
  const body = [...lines];
  const names = [...new Set(bars.map((b) => b.name))];
  const plotW = WIDTH - PAD.left - PAD.right;
  const groupW = plotW / Math.max(chart.groups.length, 1);
  const barW = Math.min(48, (groupW * 0.8) / Math.max(names.length, 1));
  const bottom = HEIGHT - PAD.bottom;
  chart.groups.forEach((g, gi) => {
    const start = PAD.left + gi * groupW + (groupW - barW * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      const color = COLORS[names.indexOf(b.name) % COLORS.length] as string;
      const x0 = start + bi * barW;
      body.push(
        `<rect x="${r(x0 + 2)}" y="${r(y(b.value))}" width="${r(barW - 4)}" height="${r(bottom - y(b.value))}" fill="${color}"><title>${escapeXml(`${g.label} ${b.name}: ${formatTick(b.value)}`)}</title></rect>`,
      );
      body.push(text(x0 + barW / 2, y(b.value) - 3, formatTick(b.value), 'text-anchor="middle" font-size="9"'));
      if (b.min !== undefined && b.max !== undefined)
        body.push(line(x0 + barW / 2, y(b.min), x0 + barW / 2, y(b.max), 'stroke="#222"'));
    });
    const lx = PAD.left + gi * groupW + groupW / 2;
    body.push(
      chart.slantLabels
        ? text(lx, bottom + 12, g.label, `text-anchor="end" transform="rotate(-25 ${r(lx)} ${r(bottom + 12)})"`)
        : text(lx, bottom + 14, g.label, 'text-anchor="middle"'),
    );
  });
  if (chart.reference) body.push(...referenceLine(chart.reference, y));
  if (names.length > 1) body.push(...legend(names));
  return frame(chart.title, chart.yLabel, body, chart.note);
}
