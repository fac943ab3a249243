package dev.deadlockd;

import java.lang.ref.WeakReference;
import java.util.ArrayList;

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
  /** what this owner holds, oldest first; touched only by the owner's own thread */
  final ArrayList<Res> held = new ArrayList<>(4);
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

  void took(Res r) {
    held.add(r);
  }

  void gave(Res r) {
    int last = held.size() - 1;
    if (last >= 0 && held.get(last) == r) {
      held.remove(last);
      return;
    }
    int i = held.lastIndexOf(r);
    if (i >= 0) held.remove(i);
  }
}
