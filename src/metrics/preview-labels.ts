import { escapeXml, svgToPng } from '../chart/index.js';
import { MetricsInputError } from './errors.js';
import { encodePng, type RgbaImage, type Rgb } from './preview.js';

/** One entry of a montage's colour key. */
export interface ColourKeyEntry {
  colour: Rgb;
  label: string;
}

export interface LabelOptions {
  /** Title above the montage (e.g. the image file name). */
  title?: string;
  /** Colour key below the montage, one swatch per entry. */
  key?: ColourKeyEntry[];
  /** Text of a tile's label from its slice index (default "slice <z>"). */
  sliceLabel?: (z: number) => string;
  /** Each voxel drawn as this many pixels (default: tiles at least ~160 px wide, at most 8x). */
  scale?: number;
}

const hex = ([r, g, b]: Rgb) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;

/**
 * A montage with text, as PNG: the raster scaled up with nearest-neighbour pixels, each tile's slice
 * number in its top-left corner, a title above and a colour key below. Drawn as SVG and rendered by
 * resvg with the chart font (see chart/), so the text is real typography, not a bitmap font.
 */
export function labelledMontagePng(img: RgbaImage, o: LabelOptions = {}): Uint8Array {
  if (!img.tiles) throw new MetricsInputError('preview labels need a montage from renderMontage (tile geometry missing)');
  const t = img.tiles;
  const scale = o.scale ?? Math.max(1, Math.min(8, Math.ceil(160 / t.width)));
  if (!Number.isInteger(scale) || scale < 1) throw new MetricsInputError(`preview: scale must be a positive integer, got ${scale}`);
  const pad = 8;
  const titleH = o.title ? 26 : 0;
  const keyH = o.key?.length ? 26 : 0;
  const w = img.width * scale;
  const h = img.height * scale;
  const width = w + 2 * pad;
  const height = h + 2 * pad + titleH + keyH;
  const png = Buffer.from(encodePng(img)).toString('base64');
  const top = pad + titleH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#000"/>`,
    `<image x="${pad}" y="${top}" width="${w}" height="${h}" image-rendering="optimizeSpeed" preserveAspectRatio="none" xlink:href="data:image/png;base64,${png}"/>`,
  ];
  const text = (x: number, y: number, s: string, size: number, extra = '') =>
    `<text x="${x}" y="${y}" font-size="${size}" fill="#fff" ${extra}>${escapeXml(s)}</text>`;
  if (o.title) parts.push(text(pad, pad + 17, o.title, 15, 'font-weight="bold"'));
  const label = o.sliceLabel ?? ((z: number) => `slice ${z}`);
  img.slices.forEach((z, i) => {
    const x = pad + (i % t.cols) * (t.width + t.gap) * scale;
    const y = top + Math.floor(i / t.cols) * (t.height + t.gap) * scale;
    const s = label(z);
    // A dark box behind the number keeps it readable over bright tissue.
    parts.push(`<rect x="${x}" y="${y}" width="${7 * s.length + 8}" height="17" fill="#000" fill-opacity="0.6"/>`, text(x + 4, y + 13, s, 12));
  });
  if (o.key?.length) {
    let x = pad;
    const y = top + h + pad + 4;
    for (const k of o.key) {
      parts.push(`<rect x="${x}" y="${y}" width="14" height="14" fill="${hex(k.colour)}" stroke="#fff" stroke-width="1"/>`, text(x + 20, y + 12, k.label, 12));
      x += 20 + 7.5 * k.label.length + 24;
    }
  }
  parts.push('</svg>');
  return svgToPng(parts.join(''));
}
