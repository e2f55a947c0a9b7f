import type { TopLevelSpec } from 'vega-lite';
import { ChartError, svgToPng } from './svg-png.js';
import { chartFont } from './font.js';

/**
 * Vega-Lite spec -> SVG (vega's headless SVG renderer) -> PNG (resvg). Vega is loaded on first use:
 * it is large and only plotting needs it. The font family is set in the spec so vega's layout and
 * resvg's drawing agree on it.
 */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const font = chartFont().family;
  const withFont = { ...spec, config: { font, ...(spec.config ?? {}) } } as TopLevelSpec;
  let view;
  try {
    view = new vega.View(vega.parse(vl.compile(withFont).spec), { renderer: 'none' });
    return await view.toSVG();
  } catch (err) {
    throw new ChartError(`cannot lay out the chart (${(err as Error).message})`);
  } finally {
    view?.finalize();
  }
}

export async function vegaLiteToPng(spec: TopLevelSpec, scale = 1): Promise<Uint8Array> {
  return svgToPng(await vegaLiteToSvg(spec), { scale });
}
