// The dashboard's name shortening (server/dashboard-assets/names.js, a
// browser module loaded here as the daemon loads cycle-picture.js): names
// sharing a long prefix stay told apart, and no two names ever shorten alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ASSETS_DIR } from '../src/dashboard/assets.js';

interface Names {
  middleEllipsis(s: string, max: number): string;
  uniqueShortNames(names: string[], max: number): Map<string, string>;
}
const load = (): Promise<Names> => import(pathToFileURL(join(ASSETS_DIR, 'names.js')).href) as Promise<Names>;

test('a long name loses its middle, not its end', async () => {
  const { middleEllipsis } = await load();
  assert.equal(middleEllipsis('pg:advisory:ledger-2024-eu-west-1-shard-07', 20), 'pg:advisor…-shard-07');
  assert.equal(middleEllipsis('short', 20), 'short');
  assert.equal(middleEllipsis('pg:advisory:ledger-2024-eu-west-1-shard-07', 20).length, 20);
});

test('names that would shorten alike keep more until they differ; distinct names never share a short form', async () => {
  const { uniqueShortNames } = await load();
  // the same first 10 and last 9 characters: cut at 20 they read the same
  const a = 'pg:advisor-xxxxxxxxxxxxxxxxxxxx-A-shard-07';
  const b = 'pg:advisor-xxxxxxxxxxxxxxxxxxxx-B-shard-07';
  const short = uniqueShortNames([a, b, 'ledger', a], 20);
  assert.equal(short.size, 3);
  assert.notEqual(short.get(a), short.get(b));
  assert.equal(short.get('ledger'), 'ledger');
  for (const [full, s] of short) {
    const [head, tail = ''] = s.split('…');
    assert.ok(full.startsWith(head!) && full.endsWith(tail), `${s} is cut from ${full}`);
  }
  // many names of one shape: all different once shortened
  const many = Array.from({ length: 300 }, (_, i) => `pg:advisory:ledger-2024-eu-west-1-shard-${String(i).padStart(3, '0')}-replica`);
  assert.equal(new Set(uniqueShortNames(many, 16).values()).size, 300);
});
