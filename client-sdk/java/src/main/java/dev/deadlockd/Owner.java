package dev.deadlockd;

import java.lang.ref.WeakReference;
import java.util.Arrays;

/** Who holds and waits: a thread (by default) or a task run with {@link Deadlockd#task}. */
final class Owner {
  final String id;
  final String name;
  final int priority;
  /** false: the daemon never picks it as a victim (a queued executor task: aborting it would fail its waiter instead) */
  volatile boolean abortable;
  final long startedAt = System.currentTimeMillis();
  /** the thread of a thread owner (null for a task): its death ends the owner */
  final WeakReference<Thread> thread;
  /**
   * what this owner holds, oldest first ({@code held[0..heldCount)}); touched only by the owner's own thread.
   * A plain array stack: an uncontended lock/unlock pushes and pops it, nothing more.
   */
  Res[] held = new Res[4];
  int heldCount;
  /** tasks run on top of this owner in its thread right now (its thread only): while > 0 it is not the current owner */
  int shadowed;
  /** guarded by the reporter's lock */
  int declaredEpoch = -1;
  volatile boolean ended;

  Owner(String id, String name, int priority, Thread thread) {
    this(id, name, priority, thread, true);
  }

  Owner(String id, String name, int priority, Thread thread, boolean abortable) {
    this.abortable = abortable;
    this.id = id;
    this.name = name;
    this.priority = priority;
    this.thread = thread == null ? null : new WeakReference<>(thread);
  }

  /**
   * Is this the current owner of the calling thread? True only for a thread owner of this thread with no task run
   * on top of it; false means "ask the thread-local" (it may still be). Cheaper than the thread-local lookup.
   */
  boolean isCurrentThread() {
    return thread != null && shadowed == 0 && thread.refersTo(Thread.currentThread());
  }

  void took(Res r) {
    if (heldCount == held.length) held = Arrays.copyOf(held, heldCount * 2);
    // slots are not cleared on pop (gave): the same lock taken again at the same depth skips the store (and its GC barrier)
    if (held[heldCount] != r) held[heldCount] = r;
    heldCount++;
  }

  void gave(Res r) {
    int last = heldCount - 1;
    if (last >= 0 && held[last] == r) {
      // the slot is not cleared: a resource lives as long as its client's registry anyway, and an uncontended
      // unlock saves the store
      heldCount = last;
      return;
    }
    for (int i = last - 1; i >= 0; i--) {
      if (held[i] == r) {
        System.arraycopy(held, i + 1, held, i, last - i);
        held[last] = null;
        heldCount = last;
        return;
      }
    }
  }
}
