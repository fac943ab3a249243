// The printed table: one row per figure, with its goal and PASS/MISS.

type Status = 'PASS' | 'MISS' | 'info' | 'ERROR';

export interface Row {
  section: string;
  figure: string;
  result: string;
  goal: string;
  status: Status;
}

export function goalRow(section: string, figure: string, result: string, goal: string, pass: boolean): Row {
  return { section, figure, result, goal, status: pass ? 'PASS' : 'MISS' };
}

export function infoRow(section: string, figure: string, result: string): Row {
  return { section, figure, result, goal: '—', status: 'info' };
}

export function errorRow(section: string, err: unknown): Row {
  const msg = String((err as Error)?.message ?? err).split('\n')[0] ?? '';
  return { section, figure: 'failed', result: msg.slice(0, 100), goal: '—', status: 'ERROR' };
}

export function renderTable(rows: Row[]): string {
  const head: Row = { section: 'measurement', figure: 'figure', result: 'result', goal: 'goal', status: 'status' as Status };
  const cols: (keyof Row)[] = ['section', 'figure', 'result', 'goal', 'status'];
  const width = (k: keyof Row) => Math.max(...[head, ...rows].map((r) => r[k].length));
  const w = cols.map(width);
  const line = (r: Row) => cols.map((k, i) => r[k].padEnd(w[i] as number)).join(' | ').trimEnd();
  const rule = w.map((n) => '-'.repeat(n)).join('-+-');
  const out = [line(head), rule];
  let last = '';
  for (const r of rows) {
    out.push(line(r.section === last ? { ...r, section: '' } : r));
    last = r.section;
  }
  return out.join('\n');
}

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const fmtRatio = (n: number): string => (n >= 100 ? `${fmtInt(n)}×` : `${n.toFixed(2)}×`);
export function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(1)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}
export const fmtMs = (ms: number): string => (ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`);
export const fmtCount = (n: number): string => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n));
