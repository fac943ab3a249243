import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2] as string, 'utf8'));
const self = new Map<string, number>();
const byId = new Map<number, any>();
for (const node of p.nodes) byId.set(node.id, node);
const dt = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
let total = 0;
for (const [id, t] of dt) { const nd = byId.get(id); const k = `${nd.callFrame.functionName || '(anon)'} ${nd.callFrame.url.split('/').slice(-1)[0]}:${nd.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + t); total += t; }
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((t / 1000).toFixed(0).padStart(7), 'ms', (100 * t / total).toFixed(1).padStart(5), '%', k);
