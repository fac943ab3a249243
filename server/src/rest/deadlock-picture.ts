// The drawn picture of one deadlock, as the dashboard draws it: the daemon
// loads the dashboard's own (DOM-free) drawing module, so the SVG served over
// REST and the one in the browser are the same drawing from the same code.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DeadlockReport } from '@deadlockd/proto';
import { ASSETS_DIR } from '../dashboard/assets.js';

type Draw = (report: DeadlockReport) => string;

let draw: Promise<Draw> | undefined;

export async function deadlockSvg(report: DeadlockReport, assetsDir = ASSETS_DIR): Promise<string> {
  draw ??= import(pathToFileURL(join(assetsDir, 'cycle-picture.js')).href).then((m: { cyclePicture: Draw }) => m.cyclePicture);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${(await draw)(report)}\n`;
}
