package dev.deadlockd;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A named resource of one client: its state is guarded by {@link #m} (lock order: {@code m}, then the
 * reporter's lock, never the other way). Waiters queue FIFO; a release grants from the head.
 */
abstract class Res {
  final Deadlockd dd;
  final String id;
  final ReentrantLock m = new ReentrantLock();
  final ArrayDeque<Wait> queue = new ArrayDeque<>();
  /** guarded by the reporter's lock */
  int declaredEpoch = -1;
  /** its handle in that epoch, when the daemon takes handles (proto ResourceEvent.handle); guarded by the reporter's lock */
  int handle = -1;
  /**
   * the last lock-order pair (held → this) found already reported, with the reporter's pair set it is in: a thread
   * that takes the same two locks nested again and again skips the reporter's map (one entry, replaced whole)
   */
  volatile OrderSeen orderSeen;

  record OrderSeen(Res held, Object pairs) {}

  Res(Deadlockd dd, String id) {
    this.dd = dd;
    this.id = id;
  }

  /** the {@code resource} event that declares it */
  abstract ObjectNode declaration();

  /** a pool or semaphore: a second unit asked for by a holder is a nested checkout */
  boolean counted() {
    return false;
  }

  /** shared across processes: holds are reported (after the report delay) even when nobody here waits */
  boolean global() {
    return false;
  }

  /** extra text for the nested-checkout warning (where the held unit was taken) */
  String nestedDetail(Owner o) {
    return "";
  }

  /** under m: the current holds */
  abstract Collection<Hold> holds();

  /** under m: could this request be granted now (ignoring the queue)? */
  abstract boolean fits(Owner o, int units, String mode);

  /** under m: record the hold of a request that fits */
  abstract Hold take(Owner o, int units, String mode);

  /**
   * Under m, for a request that cannot be granted at once: queue it and block until granted (the hold),
   * timed out (null), interrupted (only if {@code interruptible}) or aborted as a deadlock's victim.
   * {@code timeoutNanos} &lt; 0: no timeout.
   */
  final Hold await(Owner me, int units, String mode, long timeoutNanos, boolean interruptible) throws InterruptedException {
    Wait w = new Wait(dd.newWaitId(), me, this, units, mode, dd.captureSite());
    queue.add(w);
    dd.reporter.waitBegan(w);
    long nanos = timeoutNanos;
    boolean interrupted = false;
    while (!w.done) {
      try {
        if (timeoutNanos >= 0) {
          if (nanos <= 0) {
            cancel(w, "timeout");
            return null;
          }
          nanos = w.cond.awaitNanos(nanos);
        } else if (interruptible) {
          w.cond.await();
        } else {
          w.cond.awaitUninterruptibly();
        }
      } catch (InterruptedException e) {
        if (!w.done) {
          cancel(w, "signal");
          throw e;
        }
        interrupted = true;
      }
    }
    if (interrupted) Thread.currentThread().interrupt();
    if (w.aborted != null) {
      // a fresh exception, so its stack trace is this thread's
      throw new DeadlockException(w.aborted.deadlockId(), w.aborted.report());
    }
    return w.hold;
  }

  static long nanos(long time, TimeUnit unit) {
    return Math.max(0, unit.toNanos(time));
  }

  /** under m */
  private void cancel(Wait w, String reason) {
    queue.remove(w);
    w.done = true;
    dd.reporter.waitEnded(w, null, reason);
    grantWaiting();
  }

  /**
   * Under m, after the holds changed or a waiter left the queue: grant queued requests from the head while
   * they fit (FIFO: the head blocks the rest).
   */
  void grantWaiting() {
    while (!queue.isEmpty()) {
      Wait h = queue.peek();
      if (!fits(h.owner, h.units, h.mode)) return;
      queue.poll();
      Hold hold = take(h.owner, h.units, h.mode);
      h.hold = hold;
      h.done = true;
      h.granted = true;
      dd.reporter.waitEnded(h, hold, null);
      h.cond.signal();
    }
  }

  /** The daemon's abort: fail exactly this pending wait. False if it is no longer pending. */
  final boolean abort(Wait w, DeadlockException why) {
    m.lock();
    try {
      if (w.done) return false;
      queue.remove(w);
      w.done = true;
      w.aborted = why;
      dd.reporter.waitEnded(w, null, "deadlock");
      w.cond.signal();
      grantWaiting();
    } finally {
      m.unlock();
    }
    onAborted(w);
    return true;
  }

  /** after an abort (outside m): report-only resources withdraw the real request */
  void onAborted(Wait w) {}

  /** under m: a hold ended (tell the daemon if it knew of it) */
  final void released(Hold h) {
    released(h, h.units);
  }

  /** under m: part of a hold ended ({@code units} of a semaphore hold) */
  final void released(Hold h, int units) {
    if (h.reportedEpoch >= 0) dd.reporter.released(h, units);
  }
}
