import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2] as string, 'utf8'));
const fn = process.argv[3];
const lines = new Map<number, number>();
for (const nd of p.nodes) if (nd.callFrame.functionName === fn) for (const t of nd.positionTicks ?? []) lines.set(t.line, (lines.get(t.line) ?? 0) + t.ticks);
for (const [l, t] of [...lines].sort((a, b) => a[0] - b[0])) console.log(String(l).padStart(5), String(t).padStart(6));
