import { existsSync } from 'node:fs';

/**
 * Text in rendered charts uses DejaVu Sans (Debian `fonts-dejavu-core`, installed by .ci/install.d/fonts):
 * one known font makes plots look the same on every machine. Elsewhere (macOS, Windows, other distros)
 * resvg falls back to the system's fonts. SAB_FONT may name another .ttf.
 */
const DEJAVU_DIRS = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu', '/usr/share/fonts/TTF', '/usr/local/share/fonts/dejavu', '/opt/homebrew/share/fonts'];

export const CHART_FONT_FAMILY = 'DejaVu Sans';

export interface FontChoice {
  /** Font files to load (empty: use the system's fonts). */
  files: string[];
  family: string;
}

let cached: FontChoice | undefined;

export function chartFont(): FontChoice {
  if (cached) return cached;
  const env = process.env['SAB_FONT'];
  if (env && existsSync(env)) return (cached = { files: [env], family: CHART_FONT_FAMILY });
  for (const dir of DEJAVU_DIRS) {
    const regular = `${dir}/DejaVuSans.ttf`;
    if (existsSync(regular)) {
      const bold = `${dir}/DejaVuSans-Bold.ttf`;
      return (cached = { files: existsSync(bold) ? [regular, bold] : [regular], family: CHART_FONT_FAMILY });
    }
  }
  return (cached = { files: [], family: 'sans-serif' });
}
