// Config sources (defaults < env < flags) and validation messages.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONFIG, SETTINGS, helpText, loadConfig, parseConfigSources, resolveConfig } from '../src/index.js';

describe('config', () => {
  it('defaults apply when nothing is set', () => {
    assert.deepEqual(loadConfig([], {}), DEFAULT_CONFIG);
    assert.equal(DEFAULT_CONFIG.port, 7070);
  });

  it('env overrides defaults, flags override env', () => {
    const env = { DEADLOCKD_PORT: '8080', DEADLOCKD_LOG_LEVEL: 'debug', DEADLOCKD_VICTIM_ORDER: 'work, priority' };
    const fromEnv = loadConfig([], env);
    assert.equal(fromEnv.port, 8080);
    assert.equal(fromEnv.logLevel, 'debug');
    assert.deepEqual(fromEnv.victimOrder, ['work', 'priority']);
    const fromFlags = loadConfig(['--port', '9090', '--confirm-rounds=5', '--host', '0.0.0.0'], env);
    assert.equal(fromFlags.port, 9090);
    assert.equal(fromFlags.confirmRounds, 5);
    assert.equal(fromFlags.host, '0.0.0.0');
    assert.equal(fromFlags.logLevel, 'debug');
  });

  const bad: [string, string[], Record<string, string>, RegExp][] = [
    ['a non-numeric port in env', [], { DEADLOCKD_PORT: 'abc' }, /--port \(DEADLOCKD_PORT\): "abc"/],
    ['a port out of range', ['--port', '70000'], {}, /--port \(DEADLOCKD_PORT\): "70000"/],
    ['a fractional frame size', [], { DEADLOCKD_MAX_FRAME_BYTES: '1.5' }, /--max-frame-bytes \(DEADLOCKD_MAX_FRAME_BYTES\)/],
    ['a negative grace period', ['--disconnect-grace-ms=-1'], {}, /--disconnect-grace-ms \(DEADLOCKD_DISCONNECT_GRACE_MS\)/],
    ['an unknown log level', [], { DEADLOCKD_LOG_LEVEL: 'loud' }, /--log-level \(DEADLOCKD_LOG_LEVEL\): "loud"/],
    ['an unknown log format', ['--log-format', 'xml'], {}, /--log-format \(DEADLOCKD_LOG_FORMAT\): "xml": expected json\|pretty/],
    ['an unknown victim criterion', ['--victim-order', 'priority,luck'], {}, /--victim-order \(DEADLOCKD_VICTIM_ORDER\): "priority,luck"/],
    ['a repeated victim criterion', ['--victim-order', 'work,work'], {}, /--victim-order.*must not repeat/],
    ['zero confirm rounds', ['--confirm-rounds', '0'], {}, /--confirm-rounds/],
    ['a heartbeat past what a timer can take', ['--heartbeat-ms', '2147483648'], {}, /--heartbeat-ms \(DEADLOCKD_HEARTBEAT_MS\): "2147483648"/],
    ['a snapshot limit below one frame', ['--max-snapshot-events', '10', '--max-events-per-frame', '11'], {}, /--max-snapshot-events \(10\) must be at least --max-events-per-frame \(11\)/],
    ['a snapshot budget below one snapshot', ['--max-snapshot-events-in-flight', '1000'], {}, /--max-snapshot-events-in-flight \(1000\) must be at least --max-snapshot-events \(250000\)/],
    ['a hello timeout of 0', [], { DEADLOCKD_HELLO_TIMEOUT_MS: '0' }, /--hello-timeout-ms \(DEADLOCKD_HELLO_TIMEOUT_MS\)/],
    ['a queue budget below 64 KiB', ['--max-queued-bytes', '1000'], {}, /--max-queued-bytes \(DEADLOCKD_MAX_QUEUED_BYTES\)/],
    ['a metrics token that is also a namespace token', ['--tokens', 'tok=ns', '--metrics-token', 'tok'], {}, /--metrics-token \(DEADLOCKD_METRICS_TOKEN\) must differ/],
  ];
  for (const [name, argv, env, message] of bad) {
    it(`rejects ${name}, naming the setting`, () => {
      assert.throws(() => loadConfig(argv, env), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it('rejects unknown flags', () => {
    assert.throws(() => loadConfig(['--prot', '1'], {}), (err: unknown) => err instanceof ConfigError && /--prot/.test(err.message));
  });

  it('--help lists every setting with its env name and default', () => {
    assert.deepEqual(parseConfigSources(['--help'], {}), { kind: 'help' });
    const text = helpText();
    for (const s of Object.values(SETTINGS)) {
      assert.ok(text.includes(`--${s.flag}`), s.flag);
      assert.ok(text.includes(s.env), s.env);
    }
    assert.ok(text.includes('default 7070'));
    assert.ok(text.includes('default priority,youngest,work,closer'));
  });

  it('resolveConfig validates programmatic overrides too', () => {
    assert.equal(resolveConfig({ port: 0 }).port, 0);
    assert.throws(() => resolveConfig({ historySize: 0 }), ConfigError);
  });
});
