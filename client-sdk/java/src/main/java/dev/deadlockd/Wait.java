package dev.deadlockd;

import java.util.concurrent.locks.Condition;

/** One pending acquire. All fields but the ids are guarded by {@code res.m}. */
final class Wait {
  final String waitId;
  final Owner owner;
  final Res res;
  final int units;
  final String mode;
  final long since = System.currentTimeMillis();
  final long startNanos = System.nanoTime();
  final StackTraceElement[] site;
  final Condition cond;
  int reportedEpoch = -1;
  boolean done;
  boolean granted;
  DeadlockException aborted;
  Hold hold;
  /** a wait for this task (owner) to end, instead of for the resource */
  Owner task;

  Wait(String waitId, Owner owner, Res res, int units, String mode, StackTraceElement[] site) {
    this.waitId = waitId;
    this.owner = owner;
    this.res = res;
    this.units = units;
    this.mode = mode;
    this.site = site;
    this.cond = res.m.newCondition();
  }
}
