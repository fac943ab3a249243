// Entry point of a measurement run in its own process (see child.ts):
// `node [flags] child-main.js <name>` prints one result line on stdout.
import { RESULT_MARK } from './child.js';
import { measureHotLock } from './engine-hot-lock.js';
import { measureHoldsScaling } from './engine-holds.js';
import { measureEngineVsNaive } from './engine-vs-naive.js';
import { measureMemory } from './engine-memory.js';

const measurements: Record<string, () => Promise<unknown>> = {
  'hot-lock': measureHotLock,
  'holds-scaling': measureHoldsScaling,
  'engine-vs-naive': measureEngineVsNaive,
  memory: measureMemory,
};

const name = process.argv[2] ?? '';
const run = measurements[name];
if (!run) {
  process.stderr.write(`unknown measurement '${name}'; one of: ${Object.keys(measurements).join(', ')}\n`);
  process.exit(2);
}
const result = await run();
process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
