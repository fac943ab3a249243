// A captured call site, trimmed to the application's frames: what a report shows under a wait
// is where the app asked, not Node's event loop (`processTicksAndRejections`, `listOnTimeout`,
// `runNextTicks`, anything in `node:internal/`) nor this SDK's own functions.
import { fileURLToPath } from 'node:url';

/** this SDK's compiled sources (dist/src/), as a frame names them: file URL and path */
const SDK_DIR_URL = new URL('.', import.meta.url).href;
const SDK_DIR_PATH = fileURLToPath(SDK_DIR_URL);

/** Node's own frames: its internal modules, builtins without a file, `Promise.all (index 0)` */
const NODE_FRAME = /\((?:node:|internal\/)|^at (?:node:|internal\/)|\((?:index \d+|<anonymous>)\)$|^at (?:process\.)?(?:processTicksAndRejections|runNextTicks|listOnTimeout|processTimers|processImmediate)\b/;

/** Is this (trimmed) `at …` line one of the app's frames? */
function isAppFrame(line: string): boolean {
  return line.startsWith('at ') && !NODE_FRAME.test(line) && !line.includes(SDK_DIR_URL) && !line.includes(SDK_DIR_PATH);
}

/** The frames of a V8 stack (its `Error` header line dropped) that are the app's, one per line. */
export function appFrames(stack: string): string {
  const out: string[] = [];
  for (const raw of stack.split('\n')) {
    const line = raw.trim();
    if (isAppFrame(line)) out.push(line);
  }
  return out.join('\n');
}
