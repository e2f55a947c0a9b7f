// Charts and labelled images as PNG: Vega-Lite for plots, resvg for SVG -> PNG, DejaVu Sans for text.
export { chartFont, CHART_FONT_FAMILY, type FontChoice } from './font.js';
export { ChartError, escapeXml, svgToPng } from './svg-png.js';
export { vegaLiteToPng, vegaLiteToSvg } from './vega.js';
