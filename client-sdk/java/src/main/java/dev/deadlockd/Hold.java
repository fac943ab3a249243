package dev.deadlockd;

/** One owner's hold of a resource (units for a semaphore, a mode for a read-write lock). */
final class Hold {
  final Owner owner;
  final Res res;
  int units;
  final String mode;
  final long startNanos;
  /** the reporter epoch in which the daemon learnt of this hold (-1: never); written under res.m */
  int reportedEpoch = -1;
  /** when it began, epoch ms (from the monotonic start: one clock read per acquire) */
  long since() {
    return System.currentTimeMillis() - (System.nanoTime() - startNanos) / 1_000_000L;
  }

  /** where it was taken, for holds whose call site matters (pool checkouts, shared resources) */
  StackTraceElement[] site;

  Hold(Owner owner, Res res, int units, String mode) {
    this(owner, res, units, mode, System.nanoTime());
  }

  Hold(Owner owner, Res res, int units, String mode, long startNanos) {
    this.startNanos = startNanos;
    this.owner = owner;
    this.res = res;
    this.units = units;
    this.mode = mode;
  }
}
