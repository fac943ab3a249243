// `using` / `await using` support (TC39 explicit resource management). TypeScript compiles
// `using h = await m.acquire()` for our ES2022 target into helpers that look up
// `Symbol.dispose` / `Symbol.asyncDispose` at run time. Node 20.4+ defines both (as
// Symbol.for('nodejs.dispose') / Symbol.for('nodejs.asyncDispose')); on an older Node 20 they are
// defined here, once, with those same registered symbols, so that whoever defines them later
// (core-js, another library) and Node agree on one symbol. Nothing is replaced that exists.
// Every module with a disposable class imports this file first (class keys are read at load).
export {};
for (const [name, key] of [['dispose', 'nodejs.dispose'], ['asyncDispose', 'nodejs.asyncDispose']] as const) {
  if (typeof (Symbol as unknown as Record<string, unknown>)[name] !== 'symbol') {
    Object.defineProperty(Symbol, name, { value: Symbol.for(key), writable: false, enumerable: false, configurable: false });
  }
}

