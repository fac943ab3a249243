// Auth settings: --tokens / DEADLOCKD_TOKENS and --tokens-file /
// DEADLOCKD_TOKENS_FILE, merged and validated without ever printing a token.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, helpText, loadConfig, resolveConfig } from '../src/index.js';
import { redactToken } from '../src/auth.js';
import { TokenTable } from '../src/tokens.js';

describe('auth settings', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'deadlockd-tokens-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, content: string): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };

  const rejects = (fn: () => unknown, message: RegExp, secret?: string) =>
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, message);
      if (secret) assert.ok(!err.message.includes(secret), 'the error never shows a token');
      return true;
    });

  it('auth is off by default', () => {
    assert.deepEqual(loadConfig([], {}).tokens, {});
    assert.equal(new TokenTable({}).enabled, false);
    assert.equal(new TokenTable({}).namespaceOf(undefined), 'default');
  });

  it('--tokens and DEADLOCKD_TOKENS take token=namespace pairs; a token may contain `=`', () => {
    assert.deepEqual(loadConfig([], { DEADLOCKD_TOKENS: 'aaa=ns1, bbb=ns2' }).tokens, { aaa: 'ns1', bbb: 'ns2' });
    assert.deepEqual(loadConfig(['--tokens', 'b64tok==ns1'], { DEADLOCKD_TOKENS: 'x=y' }).tokens, { 'b64tok=': 'ns1' });
  });

  it('--tokens-file / DEADLOCKD_TOKENS_FILE is a JSON object merged with --tokens', () => {
    const p = file('ok.json', JSON.stringify({ 'file-token': 'teamA', shared: 'teamB' }));
    assert.deepEqual(loadConfig([], { DEADLOCKD_TOKENS_FILE: p }).tokens, { 'file-token': 'teamA', shared: 'teamB' });
    assert.deepEqual(loadConfig(['--tokens-file', p, '--tokens', 'flag-token=teamC,shared=teamB'], {}).tokens, {
      'file-token': 'teamA',
      shared: 'teamB',
      'flag-token': 'teamC',
    });
    assert.deepEqual(resolveConfig({ tokensFile: p }).tokens['file-token'], 'teamA', 'programmatic configs read the file too');
  });

  it('a tokens-file entry may name the PostgreSQL databases watched for its namespace', () => {
    const p = file('pg.json', JSON.stringify({
      'team-a-token': { namespace: 'teamA', watchPostgres: ['postgres://watcher:pw@db-a:5432/orders'] },
      'team-b-token': 'teamB',
    }));
    const c = loadConfig(['--tokens-file', p, '--watch-postgres', 'postgres://watcher@db-default/app'], {});
    assert.deepEqual(c.tokens, { 'team-a-token': 'teamA', 'team-b-token': 'teamB' });
    assert.deepEqual(c.watchPostgres, ['postgres://watcher@db-default/app', 'teamA=postgres://watcher:pw@db-a:5432/orders']);
    // a bad one is refused without echoing the token or the connection string (it may carry a password)
    const bad = file('pgbad.json', JSON.stringify({ topsecret: { namespace: 'teamA', watchPostgres: ['mysql://pw-secret@x/y'] } }));
    rejects(() => loadConfig(['--tokens-file', bad], {}), /entry 1/, 'pw-secret');
    rejects(() => loadConfig(['--tokens-file', bad], {}), /entry 1/, 'topsecret');
  });

  it('rejects malformed settings without echoing the tokens', () => {
    rejects(() => loadConfig(['--tokens', 'topsecret'], {}), /--tokens \(DEADLOCKD_TOKENS\): entry 1 is not of the form token=namespace/, 'topsecret');
    rejects(() => loadConfig(['--tokens', 'topsecret='], {}), /entry 1/, 'topsecret');
    rejects(() => loadConfig(['--tokens', 'topsecret=bad namespace!'], {}), /--tokens \(DEADLOCKD_TOKENS\)/, 'topsecret');
    rejects(() => loadConfig(['--tokens-file', join(dir, 'missing.json')], {}), /cannot read --tokens-file/);
    rejects(() => loadConfig(['--tokens-file', file('bad.json', '{not json')], {}), /cannot read --tokens-file/);
    rejects(() => loadConfig(['--tokens-file', file('array.json', '["topsecret"]')], {}), /expected a JSON object/, 'topsecret');
    rejects(() => loadConfig(['--tokens-file', file('badns.json', '{"topsecret": "a b"}')], {}), /entry 1/, 'topsecret');
    const clash = file('clash.json', '{"topsecret": "ns1"}');
    rejects(() => loadConfig(['--tokens-file', clash, '--tokens', 'topsecret=ns2'], {}), /different namespaces/, 'topsecret');
  });

  it('--help lists the auth settings', () => {
    const text = helpText();
    for (const s of ['--tokens', 'DEADLOCKD_TOKENS', '--tokens-file', 'DEADLOCKD_TOKENS_FILE', '--max-history-limit']) assert.ok(text.includes(s), s);
  });

  it('token lookup: exact match only, in constant time over all entries', () => {
    const t = new TokenTable({ alpha: 'ns1', beta: 'ns2', gamma: 'ns1' });
    assert.equal(t.enabled, true);
    assert.equal(t.namespaceOf('alpha'), 'ns1');
    assert.equal(t.namespaceOf('beta'), 'ns2');
    assert.equal(t.namespaceOf('gamma'), 'ns1');
    for (const wrong of [undefined, '', 'alph', 'alphaa', 'ALPHA', ' alpha']) assert.equal(t.namespaceOf(wrong), null, String(wrong));
    assert.deepEqual(t.namespaces(), ['ns1', 'ns2']);
  });

  it('redactToken hides ?token= in URLs for logs', () => {
    assert.equal(redactToken('/v1/stats?token=abc&limit=2'), '/v1/stats?token=[redacted]&limit=2');
    assert.equal(redactToken('/v1/x?limit=2&TOKEN=abc'), '/v1/x?limit=2&TOKEN=[redacted]');
    assert.equal(redactToken('/v1/x'), '/v1/x');
  });
});
