// Helpers for the REST and auth tests: HTTP calls against a real daemon, the
// crossed pair that deadlocks, and a small parser for the DOT we emit.
import assert from 'node:assert/strict';
import { connectClient, ev, type TestClient } from './helpers.js';

export interface HttpResult<T = unknown> {
  status: number;
  type: string;
  body: T;
  text: string;
  headers: Headers;
}

/** GET `path`; `token` goes in an Authorization header unless the path already carries ?token=. */
export async function get<T = unknown>(base: string, path: string, token?: string, init: RequestInit = {}): Promise<HttpResult<T>> {
  const headers = new Headers(init.headers);
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(base + path, { ...init, headers, redirect: 'manual' });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  let body: unknown = text;
  if (type.includes('json') && text.length > 0) body = JSON.parse(text);
  return { status: res.status, type, body: body as T, text, headers: res.headers };
}

export async function getOk<T = unknown>(base: string, path: string, token?: string): Promise<T> {
  const r = await get<T>(base, path, token);
  assert.equal(r.status, 200, `GET ${path}: ${r.text}`);
  return r.body;
}

/** Owners a and b of one client each hold one mutex and wait for the other's. */
export function crossedPair(opts: { abortable?: boolean; prefix?: string } = {}): unknown[] {
  const p = opts.prefix ?? '';
  const extra = opts.abortable === false ? { abortable: false } : {};
  return [
    { ...ev.mutex(`${p}m1`), fifo: true },
    { ...ev.mutex(`${p}m2`), fifo: true },
    ev.owner(`${p}a`, { name: `task ${p}a`, priority: 0, ...extra }),
    ev.owner(`${p}b`, { name: `task ${p}b`, priority: 5, ...extra }),
    ev.hold(`${p}a`, `${p}m1`),
    ev.hold(`${p}b`, `${p}m2`),
    ev.wait(`${p}wa`, `${p}a`, `${p}m2`),
    ev.wait(`${p}wb`, `${p}b`, `${p}m1`),
  ];
}

let seq = 0;
/** Sends the crossed pair and waits for the victim's abort; returns the deadlock id. */
export async function deadlockVia(client: TestClient, prefix = ''): Promise<string> {
  client.send({ type: 'events', seq: ++seq, events: crossedPair({ prefix }) });
  const abort = await client.next('abort', (a) => a.waitId === `${prefix}wa`);
  return abort.deadlock;
}

/** The SDK's answer to an abort: cancel the wait, then abort_result. */
export async function answerAbort(client: TestClient, deadlock: string, waitId: string): Promise<void> {
  client.send({ type: 'events', seq: ++seq, events: [{ type: 'cancel', waitId, reason: 'deadlock' }] });
  client.send({ type: 'abort_result', deadlock, waitId, result: 'aborted' });
  await client.barrier();
}

// ---- DOT ----------------------------------------------------------------------

export interface ParsedDot {
  strict: boolean;
  kind: 'digraph' | 'graph';
  id: string | undefined;
  nodes: Map<string, Record<string, string>>;
  edges: { from: string; to: string; attrs: Record<string, string> }[];
}

type Tok = { t: 'id'; v: string } | { t: 'p'; v: string };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (src.startsWith('//', i)) { i = src.indexOf('\n', i); if (i < 0) break; continue; }
    if (src.startsWith('->', i) || src.startsWith('--', i)) { out.push({ t: 'p', v: src.slice(i, i + 2) }); i += 2; continue; }
    if ('{}[];=,'.includes(c)) { out.push({ t: 'p', v: c }); i++; continue; }
    if (c === '"') {
      let v = '';
      i++;
      while (true) {
        if (i >= src.length) throw new Error('unterminated string in DOT');
        const d = src[i]!;
        if (d === '\\' && i + 1 < src.length) { const n = src[i + 1]!; v += n === '"' || n === '\\' ? n : n === 'n' ? '\n' : `\\${n}`; i += 2; continue; }
        if (d === '"') { i++; break; }
        v += d;
        i++;
      }
      out.push({ t: 'id', v });
      continue;
    }
    const m = /^(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*|-?(?:\.\d+|\d+(?:\.\d*)?))/.exec(src.slice(i));
    if (!m) throw new Error(`unexpected character ${JSON.stringify(c)} at ${i} in DOT`);
    out.push({ t: 'id', v: m[0] });
    i += m[0].length;
  }
  return out;
}

/** Parses the DOT grammar (graph, node, edge and attribute statements; no subgraphs or ports). Throws on a syntax error. */
export function parseDot(src: string): ParsedDot {
  const toks = tokenize(src);
  let k = 0;
  const peek = () => toks[k];
  const take = (v?: string): Tok => {
    const t = toks[k++];
    if (!t) throw new Error(`DOT ended early${v ? `, expected ${v}` : ''}`);
    if (v !== undefined && t.v !== v) throw new Error(`expected ${v}, got ${t.v}`);
    return t;
  };
  const id = (): string => {
    const t = take();
    if (t.t !== 'id') throw new Error(`expected an ID, got ${t.v}`);
    return t.v;
  };
  const attrList = (): Record<string, string> => {
    const attrs: Record<string, string> = {};
    while (peek()?.v === '[') {
      take('[');
      while (peek()?.v !== ']') {
        const key = id();
        take('=');
        attrs[key] = id();
        if (peek()?.v === ',' || peek()?.v === ';') take();
      }
      take(']');
    }
    return attrs;
  };
  let strict = false;
  if (peek()?.v.toLowerCase() === 'strict') { take(); strict = true; }
  const kindTok = id().toLowerCase();
  if (kindTok !== 'digraph' && kindTok !== 'graph') throw new Error(`expected digraph, got ${kindTok}`);
  const kind = kindTok as 'digraph' | 'graph';
  const graphId = peek()?.t === 'id' ? id() : undefined;
  take('{');
  const nodes = new Map<string, Record<string, string>>();
  const edges: ParsedDot['edges'] = [];
  const edgeOp = kind === 'digraph' ? '->' : '--';
  while (peek() && peek()!.v !== '}') {
    const first = id();
    const low = first.toLowerCase();
    if ((low === 'graph' || low === 'node' || low === 'edge') && peek()?.v === '[') {
      attrList();
    } else if (peek()?.v === '=') {
      take('=');
      id();
    } else if (peek()?.v === edgeOp) {
      const chain = [first];
      while (peek()?.v === edgeOp) { take(edgeOp); chain.push(id()); }
      const attrs = attrList();
      for (let i = 0; i + 1 < chain.length; i++) edges.push({ from: chain[i]!, to: chain[i + 1]!, attrs });
      for (const n of chain) if (!nodes.has(n)) nodes.set(n, {});
    } else {
      nodes.set(first, { ...nodes.get(first), ...attrList() });
    }
    if (peek()?.v === ';') take(';');
  }
  take('}');
  if (k !== toks.length) throw new Error('text after the closing brace of the DOT graph');
  return { strict, kind, id: graphId, nodes, edges };
}

export interface CrossClientOptions {
  /** shared mutexes `<prefix>1` and `<prefix>2` */
  prefix: string;
  services?: [string, string];
  owners?: [string, string];
  waitIds?: [string, string];
  priorities?: [number, number];
  /** runs after the first wait is in, before the wait that closes the cycle is sent */
  beforeClosing?: () => void;
}

/**
 * A deadlock across two clients on shared (global) mutexes: the first client's owner holds
 * `<prefix>1` and waits for `<prefix>2`, then the second's holds `<prefix>2` and waits for
 * `<prefix>1`. Resolves once the closing wait is sent (the daemon then opens a confirm round).
 */
export async function crossAcrossClients(wsUrl: string, o: CrossClientOptions): Promise<{ one: TestClient; two: TestClient }> {
  const [s1, s2] = o.services ?? ['svc-one', 'svc-two'];
  const [a, b] = o.owners ?? ['a', 'b'];
  const [wa, wb] = o.waitIds ?? ['wa', 'wb'];
  const [pa, pb] = o.priorities ?? [0, 0];
  const [g1, g2] = [`${o.prefix}1`, `${o.prefix}2`];
  const one = (await connectClient(wsUrl, { service: s1 })).client;
  const two = (await connectClient(wsUrl, { service: s2 })).client;
  const decl = [ev.mutex(g1, 'global'), ev.mutex(g2, 'global')];
  one.send({ type: 'events', seq: 1, events: [...decl, ev.owner(a, { priority: pa }), ev.hold(a, g1)] });
  two.send({ type: 'events', seq: 1, events: [...decl, ev.owner(b, { priority: pb }), ev.hold(b, g2)] });
  await one.barrier();
  await two.barrier();
  one.send({ type: 'events', seq: 2, events: [ev.wait(wa, a, g2)] });
  await one.barrier();
  o.beforeClosing?.();
  two.send({ type: 'events', seq: 2, events: [ev.wait(wb, b, g1)] });
  return { one, two };
}
