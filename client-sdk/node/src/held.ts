// What a successful acquire returns.
export interface Held {
  /** the resource name */
  readonly resource: string;
  readonly released: boolean;
  /** Give the hold back. A second call throws an Error with code 'ERR_NOT_HELD'. */
  release(): void;
}
