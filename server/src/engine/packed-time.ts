// Timestamps as small integers where they can be.
//
// A number field of a V8 object that holds anything but a small integer (SMI: 32 bits on a
// 64-bit build without pointer compression) points to a 16-byte heap number, allocated per
// value. Epoch milliseconds (~1.8e12) never fit, so every hold, owner and wait paid 16 B and an
// allocation for its timestamp. Stored as milliseconds after TIME_BASE (the engine's first
// use), the daemon's own Date.now() timestamps are SMIs for the first 24 days of its life;
// anything else (a client's fractional or earlier `since`, a later time) is stored as its
// negation, so every value round-trips exactly and only the common case saves the memory.
//
//   packed ≥ 0 (including +0):  TIME_BASE + packed     (an integer at or after the base)
//   packed < 0 or -0:           -packed                (anything else, exactly)
const TIME_BASE = Date.now();
const SMI_MAX = 2 ** 31 - 1;

export function packTime(ms: number): number {
  const d = ms - TIME_BASE;
  // `| 0`, not `d`: a difference of two epoch milliseconds (doubles) is a heap number 1.0 too
  // where V8 does not optimise the subtraction (the interpreter, baseline code), and one such
  // store makes the field a double field for every object of its class (V8 field
  // representations only widen): each Owner then boxed its start time in a heap number of its
  // own (16 B). An int32 from `| 0` is a SMI in every tier.
  if (Number.isInteger(d) && d >= 0 && d <= SMI_MAX) return d | 0;
  return ms === 0 ? -0 : -ms; // a -0 from JSON is time 0 too, not the base
}

export function unpackTime(packed: number): number {
  // -0 is the packed form of ms = 0 (a negated value), +0 of ms = TIME_BASE
  return packed > 0 || (packed === 0 && 1 / packed > 0) ? TIME_BASE + packed : -packed;
}
