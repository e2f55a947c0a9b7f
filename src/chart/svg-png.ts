import { Resvg } from '@resvg/resvg-js';
import { chartFont } from './font.js';

export class ChartError extends Error {
  override name = 'ChartError';
}

/** PNG bytes of an SVG document, drawn by resvg with the chart font on a white background. */
export function svgToPng(svg: string, options: { background?: string; scale?: number } = {}): Uint8Array {
  const font = chartFont();
  try {
    const r = new Resvg(svg, {
      background: options.background ?? 'white',
      font: { fontFiles: font.files, loadSystemFonts: font.files.length === 0, defaultFontFamily: font.family, sansSerifFamily: font.family },
      ...(options.scale && options.scale !== 1 ? { fitTo: { mode: 'zoom' as const, value: options.scale } } : {}),
    });
    return new Uint8Array(r.render().asPng());
  } catch (err) {
    throw new ChartError(`cannot render the chart SVG (${(err as Error).message})`);
  }
}

/** Text content for SVG (element text and attribute values). */
export const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
