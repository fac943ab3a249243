package dev.deadlockd;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReadWriteLock;

/**
 * A reentrant, fair read-write lock (like {@link java.util.concurrent.locks.ReentrantReadWriteLock} with fairness):
 * the write holder may also take the read lock; a reader asking for the write lock upgrades (granted once it is the
 * only reader; where the JDK's lock hangs forever, two readers upgrading at once are a deadlock one
 * {@link DeadlockException} resolves). New readers queue behind a waiting writer, re-entrant reads do not.
 */
public final class DReadWriteLock extends Res implements ReadWriteLock {
  private static final String SHARED = "shared";
  private static final String EXCLUSIVE = "exclusive";

  private Owner writer;
  private int writeCount;
  private Hold writerHold;
  /** reads taken by the writer while it writes: counted here, never reported */
  private int readsUnderWrite;
  private final Map<Owner, Integer> readers = new HashMap<>();
  private final Map<Owner, Hold> readerHolds = new HashMap<>();
  private final Lock read = new View(false);
  private final Lock write = new View(true);
  /** lockdep-style lock class (null: none) */
  final String lockClass;

  DReadWriteLock(Deadlockd dd, String name, String lockClass) {
    super(dd, name);
    this.lockClass = lockClass;
  }

  @Override
  public Lock readLock() {
    return read;
  }

  @Override
  public Lock writeLock() {
    return write;
  }

  @Override
  ObjectNode declaration() {
    // reentrant: the daemon counts acquisitions per mode, and a re-entrant read (granted at once, even with a writer
    // queued) is no recursive-read hazard
    ObjectNode d = JsonNodeFactory.instance.objectNode().put("type", "resource").put("resource", id).put("kind", "rwlock").put("scope", "local")
        .put("fifo", true).put("reentrant", true);
    if (lockClass != null) d.put("class", lockClass);
    return d;
  }

  @Override
  Collection<Hold> holds() {
    List<Hold> hs = new ArrayList<>(readerHolds.values());
    if (writerHold != null) hs.add(writerHold);
    return hs;
  }

  @Override
  boolean fits(Owner o, int units, String mode) {
    if (mode.equals(SHARED)) return writer == null || writer == o;
    return writer == null && (readers.isEmpty() || (readers.size() == 1 && readers.containsKey(o)));
  }

  @Override
  Hold take(Owner o, int units, String mode) {
    if (mode.equals(SHARED)) {
      readers.merge(o, 1, Integer::sum);
      return readerHolds.computeIfAbsent(o, k -> new Hold(o, this, 1, SHARED));
    }
    writer = o;
    writeCount = 1;
    writerHold = new Hold(o, this, 1, EXCLUSIVE);
    return writerHold;
  }

  private boolean acquire(boolean exclusive, long timeoutNanos, boolean interruptible) throws InterruptedException {
    Owner me = dd.owner();
    m.lock();
    try {
      if (exclusive && writer == me) {
        writeCount++;
        return true;
      }
      if (!exclusive && writer == me) {
        readsUnderWrite++;
        return true;
      }
      if (!exclusive && readers.containsKey(me)) {
        readers.merge(me, 1, Integer::sum);
        return true;
      }
    } finally {
      m.unlock();
    }
    boolean upgrading;
    if (me.heldCount > 0) dd.asked(me, this);
    m.lock();
    try {
      String mode = exclusive ? EXCLUSIVE : SHARED;
      upgrading = exclusive && readers.containsKey(me);
      if ((queue.isEmpty() || upgrading) && fits(me, 1, mode)) {
        take(me, 1, mode);
      } else if (timeoutNanos == 0 || await(me, 1, mode, timeoutNanos, interruptible) == null) {
        return false;
      }
    } finally {
      m.unlock();
    }
    if (!upgrading) me.took(this);
    return true;
  }

  private void release(boolean exclusive) {
    Owner me = dd.owner();
    boolean gone = false;
    m.lock();
    try {
      if (exclusive) {
        if (writer != me) throw new IllegalMonitorStateException("the write lock of '" + id + "' is not held by this thread");
        if (--writeCount > 0) return;
        Hold h = writerHold;
        writer = null;
        writerHold = null;
        if (readsUnderWrite > 0) {
          // a downgrade: the reads taken while writing are this owner's read lock now (the JDK's does the same)
          readers.merge(me, readsUnderWrite, Integer::sum);
          Hold r = readerHolds.computeIfAbsent(me, k -> new Hold(me, this, 1, SHARED));
          // the daemon counts a reentrant rwlock's acquisitions per mode: the shared one first, then the release
          if (h.reportedEpoch >= 0) dd.reporter.holdNow(r);
          readsUnderWrite = 0;
        }
        released(h);
        gone = !readers.containsKey(me);
      } else if (writer == me && readsUnderWrite > 0) {
        readsUnderWrite--;
        return;
      } else {
        Integer n = readers.get(me);
        if (n == null) throw new IllegalMonitorStateException("the read lock of '" + id + "' is not held by this thread");
        if (n > 1) {
          readers.put(me, n - 1);
          return;
        }
        readers.remove(me);
        released(readerHolds.remove(me));
        gone = writer != me;
      }
      grantWaiting();
    } finally {
      m.unlock();
    }
    if (gone) me.gave(this);
  }

  private final class View implements Lock {
    private final boolean exclusive;

    View(boolean exclusive) {
      this.exclusive = exclusive;
    }

    @Override
    public void lock() {
      try {
        acquire(exclusive, -1, false);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }

    @Override
    public void lockInterruptibly() throws InterruptedException {
      if (Thread.interrupted()) throw new InterruptedException();
      acquire(exclusive, -1, true);
    }

    @Override
    public boolean tryLock() {
      try {
        return acquire(exclusive, 0, false);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }

    @Override
    public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
      if (Thread.interrupted()) throw new InterruptedException();
      return acquire(exclusive, nanos(time, unit), true);
    }

    @Override
    public void unlock() {
      release(exclusive);
    }

    @Override
    public Condition newCondition() {
      throw new UnsupportedOperationException("conditions of a DReadWriteLock are not supported (as for a read lock of the JDK's)");
    }
  }
}
