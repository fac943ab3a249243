// Where the dashboard's files are, and the page itself rendered per request.
//
// No build step: the page is plain HTML/CSS/ES modules from
// server/dashboard-assets/, plus the UMD bundles of sigma and graphology
// straight from node_modules.
//
// Why the page is rendered: with auth on, every request needs the token, and a
// browser sends none on its own for <script src>, <link href> or an ES
// module's relative imports. So when the page was opened with `?token=`, its
// asset URLs carry the token too, and an import map adds it to the modules'
// imports of each other.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** server/dashboard-assets (this file runs from server/dist/src/dashboard/). */
export const ASSETS_DIR = fileURLToPath(new URL('../../../dashboard-assets/', import.meta.url));
/** URL prefix the assets are served under. */
export const ASSETS_PREFIX = '/dashboard/';

const require = createRequire(import.meta.url);

/** The browser bundles, by the file name they are served under (/vendor/<name>). */
export const VENDOR_FILES: Record<string, string> = {
  'sigma.min.js': join(dirname(require.resolve('sigma')), 'sigma.min.js'),
  'graphology.umd.min.js': join(dirname(require.resolve('graphology')), 'graphology.umd.min.js'),
};

const TOKEN_QS = '{{TOKEN_QS}}';
const IMPORT_MAP = '<!--IMPORT_MAP-->';

export class DashboardPage {
  private readonly template: string;
  private readonly modules: string[];

  constructor(dir = ASSETS_DIR) {
    this.template = readFileSync(join(dir, 'index.html'), 'utf8');
    this.modules = readdirSync(dir).filter((f) => f.endsWith('.js'));
  }

  /** The page; `token` is the one the page was opened with, if any. */
  render(token: string | undefined): string {
    const qs = token ? `?token=${encodeURIComponent(token)}` : '';
    let map = '';
    if (qs) {
      const imports: Record<string, string> = {};
      for (const m of this.modules) imports[`${ASSETS_PREFIX}${m}`] = `${ASSETS_PREFIX}${m}${qs}`;
      // `<` never appears in the JSON (file names and an encoded token), so it cannot close the script
      map = `<script type="importmap">${JSON.stringify({ imports })}</script>`;
    }
    return this.template.split(TOKEN_QS).join(qs).replace(IMPORT_MAP, map);
  }
}
