import type { TopLevelSpec } from 'vega-lite';
import { vegaLiteToPng, vegaLiteToSvg } from '../../chart/index.js';
import type { LogRow } from './log.js';

export interface PlotOptions {
  /** Title line, e.g. "Stage 2: attention fusion + mask decoder". */
  title?: string;
  /** Width of each panel's plot area in CSS pixels (default 560). */
  width?: number;
  /** The kept best checkpoint: marked on the DSC panel. */
  best?: { iteration: number; dsc: number };
}

export const OVERALL_SERIES = 'all validation cases';

/**
 * The training plot as a Vega-Lite spec: a loss panel (one line per loss term, legend "loss term")
 * over a validation panel (DSC of all validation cases and of each location on [0, 1], legend
 * "validation"), both against iteration, with the best checkpoint as a dashed rule and a labelled marker.
 */
export function logPlotSpec(rows: readonly LogRow[], lossNames: readonly string[], locations: readonly string[], o: PlotOptions = {}): TopLevelSpec {
  const width = o.width ?? 560;
  const losses = rows.flatMap((r) => lossNames.filter((n) => Number.isFinite(r.losses[n])).map((n) => ({ iteration: r.iteration, term: n, value: r.losses[n]! })));
  const dsc = rows.flatMap((r) => [
    ...(r.valDsc !== undefined ? [{ iteration: r.iteration, series: OVERALL_SERIES, dsc: r.valDsc }] : []),
    ...(locations.length > 1 ? locations.filter((l) => r.valByLocation?.[l] !== undefined).map((l) => ({ iteration: r.iteration, series: l, dsc: r.valByLocation![l]! })) : []),
  ]);
  const its = rows.map((r) => r.iteration);
  const xDomain = its.length ? [Math.min(...its), Math.max(Math.max(...its), Math.min(...its) + 1)] : [0, 1];
  const x = { field: 'iteration', type: 'quantitative' as const, title: 'iteration (optimizer steps)', scale: { domain: xDomain, nice: false }, axis: { tickMinStep: 1, format: 'd' } };
  // The best-checkpoint label reads away from the nearer edge, so it never leaves the plot area.
  const labelLeft = o.best !== undefined && o.best.iteration - xDomain[0]! < (xDomain[1]! - xDomain[0]!) / 2;
  // A single logged iteration is a point, not a line.
  const fewPoints = rows.filter((r) => Object.keys(r.losses).length > 0).length < 3;
  const best = o.best ? [{ iteration: o.best.iteration, dsc: o.best.dsc, label: `best checkpoint: DSC ${o.best.dsc.toFixed(3)} at iteration ${o.best.iteration}` }] : [];
  const series = [OVERALL_SERIES, ...(locations.length > 1 ? locations : [])];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: o.title ?? 'Fine-tuning', fontSize: 15 },
    background: 'white',
    vconcat: [
      {
        width, height: 200,
        title: { text: 'Training loss', fontSize: 12, anchor: 'start' },
        data: { values: losses },
        mark: { type: 'line', strokeWidth: 1.5, point: fewPoints },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: 'loss (unitless)', scale: { zero: true } },
          color: { field: 'term', type: 'nominal', title: 'loss term', sort: [...lossNames], scale: { scheme: 'category10' } },
        },
      },
      {
        width, height: 150,
        title: { text: 'Validation', fontSize: 12, anchor: 'start' },
        layer: [
          {
            data: { values: dsc },
            mark: { type: 'line', point: true, strokeWidth: 1.5 },
            encoding: {
              x,
              y: { field: 'dsc', type: 'quantitative', title: 'DSC (0-1)', scale: { domain: [0, 1] } },
              color: { field: 'series', type: 'nominal', title: 'validation DSC', sort: series, scale: { domain: series, scheme: 'set1' } },
            },
          },
          ...(best.length
            ? [
                { data: { values: best }, mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#444' }, encoding: { x } },
                { data: { values: best }, mark: { type: 'point' as const, shape: 'diamond', size: 140, filled: true, color: 'black' }, encoding: { x, y: { field: 'dsc', type: 'quantitative' as const } } },
                {
                  data: { values: best },
                  mark: { type: 'text' as const, align: labelLeft ? ('left' as const) : ('right' as const), dx: labelLeft ? 8 : -8, dy: -12, fontSize: 11 },
                  encoding: { x, y: { field: 'dsc', type: 'quantitative' as const }, text: { field: 'label', type: 'nominal' as const } },
                },
              ]
            : []),
        ],
      },
    ],
    resolve: { scale: { color: 'independent' } },
    config: { legend: { labelLimit: 320 }, axis: { labelFontSize: 10, titleFontSize: 11 } },
  } as TopLevelSpec;
}

/** PNG bytes of the training plot (DejaVu Sans text; see chart/). */
export async function renderLogPlot(rows: readonly LogRow[], lossNames: readonly string[], locations: readonly string[], o: PlotOptions = {}): Promise<Uint8Array> {
  return vegaLiteToPng(logPlotSpec(rows, lossNames, locations, o));
}

/** The plot's SVG (its text is searchable: tests check the labels). */
export async function renderLogPlotSvg(rows: readonly LogRow[], lossNames: readonly string[], locations: readonly string[], o: PlotOptions = {}): Promise<string> {
  return vegaLiteToSvg(logPlotSpec(rows, lossNames, locations, o));
}
