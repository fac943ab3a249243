// Every measurement of `npm run bench`, in order: how to run it and how its result becomes rows.
import { runInChild } from './child.js';
import type { HotLockResult } from './engine-hot-lock.js';
import type { HoldsScalingResult } from './engine-holds.js';
import type { MemoryResult } from './engine-memory.js';
import type { EngineVsNaiveResult } from './engine-vs-naive.js';
import { measureIngest } from './ingest.js';
import { measureLatency } from './latency.js';
import { measureQueueCost } from './queue-cost.js';
import { daemonLoadRows, measureDaemonLoad } from './daemon-load.js';
import { measureDaemonMemory } from './daemon-memory.js';
import { measurePgResolution, pgResolutionRows } from './pg-resolution.js';
import { measureSdkOverhead, sdkOverheadRows } from './sdk-overhead.js';
import { contentionRows, measureContention } from './contention.js';
import { measurePgSource, pgSourceRows } from './pg-source.js';
import { measurePythonLock, pythonLockRows } from './python-lock.js';
import { javaLockRows, measureJavaLock } from './java-lock.js';
import { historyFileRows, measureHistoryFile } from './history-file.js';
import { hotLockRows, holdsRows, ingestRows, latencyRows, memoryRows, naiveRows, queueCostRows, daemonMemoryRows } from './report.js';
import type { Row } from './table.js';

interface Step {
  key: string;
  title: string;
  run: () => Promise<unknown>;
  rows: (r: never) => Row[];
}

const GC = '--expose-gc';
export const STEPS: Step[] = [
  { key: 'ingest', title: '1. ingest over WebSocket', run: measureIngest, rows: ingestRows },
  { key: 'latency', title: '2. cycle → DeadlockError (SDK)', run: measureLatency, rows: latencyRows },
  { key: 'hotLock', title: '3a. engine: hot mutex', run: () => runInChild<HotLockResult>('hot-lock', [GC]), rows: hotLockRows },
  {
    key: 'holdsScaling',
    title: '3b. engine: live holds',
    run: () => runInChild<HoldsScalingResult>('holds-scaling', [GC, '--max-old-space-size=8192']),
    rows: holdsRows,
  },
  {
    key: 'engineVsNaive',
    title: '3c. engine vs whole-graph SCC per event',
    run: () => runInChild<EngineVsNaiveResult>('engine-vs-naive', [GC, '--max-old-space-size=4096']),
    rows: naiveRows,
  },
  { key: 'memory', title: '3d. engine: memory', run: () => runInChild<MemoryResult>('memory', [GC]), rows: memoryRows },
  { key: 'queueCost', title: '3e. per frame vs queue length (socket)', run: measureQueueCost, rows: queueCostRows },
  { key: 'daemonMemory', title: '3f. daemon process: memory per live hold', run: measureDaemonMemory, rows: daemonMemoryRows },
  { key: 'daemonLoad', title: '3g. daemon process: stalls', run: measureDaemonLoad, rows: daemonLoadRows },
  { key: 'sdkOverhead', title: '4. SDK cost (defaults)', run: measureSdkOverhead, rows: sdkOverheadRows },
  { key: 'pgResolution', title: '5. advisory-lock deadlock: deadlockd vs PostgreSQL', run: measurePgResolution, rows: pgResolutionRows },
  { key: 'contention', title: '6. contention: opposite transfers under retryOnDeadlock', run: measureContention, rows: contentionRows },
  { key: 'pythonLock', title: '7. Python SDK cost', run: measurePythonLock, rows: pythonLockRows },
  { key: 'pgSource', title: '8. PostgreSQL lock source', run: measurePgSource, rows: pgSourceRows },
  { key: 'javaLock', title: '9. Java SDK cost', run: measureJavaLock, rows: javaLockRows },
  { key: 'historyFile', title: '10. history file vs memory', run: measureHistoryFile, rows: historyFileRows },
];

