// The drawn picture of one deadlock, as the dashboard draws it: the daemon
// loads the dashboard's own (DOM-free) drawing module, so the SVG served over
// REST and the one in the browser are the same drawing from the same code.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DeadlockReport } from '@deadlockd/proto';
import { ASSETS_DIR } from '../dashboard/assets.js';

type Draw = (report: DeadlockReport) => string;

let draw: Promise<Draw> | undefined;

export async function deadlockSvg(report: DeadlockReport): Promise<string> {
  draw ??= import(pathToFileURL(join(ASSETS_DIR, 'cycle-picture.js')).href).then(
    (m: { cyclePicture: Draw }) => m.cyclePicture,
    (err: unknown) => {
      draw = undefined; // a failed load is tried again by the next request
      throw err;
    },
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n${(await draw)(report)}\n`;
}
