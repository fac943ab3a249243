package dev.deadlockd;

/** One owner's hold of a resource (units for a semaphore, a mode for a read-write lock). */
final class Hold {
  final Owner owner;
  final Res res;
  int units;
  final String mode;
  final long since = System.currentTimeMillis();
  final long startNanos = System.nanoTime();
  /** the reporter epoch in which the daemon learnt of this hold (-1: never); written under res.m */
  int reportedEpoch = -1;
  /** where it was taken, for holds whose call site matters (pool checkouts, shared resources) */
  StackTraceElement[] site;

  Hold(Owner owner, Res res, int units, String mode) {
    this.owner = owner;
    this.res = res;
    this.units = units;
    this.mode = mode;
  }
}
