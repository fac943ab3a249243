// What a successful acquire returns.
import './dispose.js';

/**
 * A hold. Disposable: `using h = await m.acquire()` (or `await using`) releases it when the
 * scope ends, however it ends; disposing a hold already released does nothing.
 */
export interface Held {
  /** the resource name */
  readonly resource: string;
  readonly released: boolean;
  /** Give the hold back. A second call throws an Error with code 'ERR_NOT_HELD'. */
  release(): void;
  /** release() unless already released (what `using` calls) */
  [Symbol.dispose](): void;
  /** the same, for `await using` */
  [Symbol.asyncDispose](): Promise<void>;
}
