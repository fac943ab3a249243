package dev.deadlockd;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;

/**
 * A reentrant mutual-exclusion lock with the behaviour of a fair {@link java.util.concurrent.locks.ReentrantLock},
 * reported to deadlockd when contended. Re-acquisitions by the holder are counted here (the daemon sees the first
 * acquire and the last release), so reentrancy is never a deadlock. The victim of a deadlock gets a
 * {@link DeadlockException} from {@link #lock()} / {@link #lockInterruptibly()}.
 */
public final class DLock extends Res implements Lock {
  private volatile Owner holder;
  /** re-acquisitions; touched by the holder only */
  private int count;
  /** the daemon's view of the hold, made only when someone waits for it (an uncontended lock allocates nothing) */
  private Hold hold;

  DLock(Deadlockd dd, String name) {
    super(dd, name);
  }

  @Override
  ObjectNode declaration() {
    return JsonNodeFactory.instance.objectNode().put("type", "resource").put("resource", id).put("kind", "mutex").put("scope", "local");
  }

  @Override
  Collection<Hold> holds() {
    // an uncontended acquire reads no clock: its hold is dated from when a waiter first needed it
    if (holder != null && hold == null) hold = new Hold(holder, this, 1, null);
    return hold == null ? List.of() : List.of(hold);
  }

  @Override
  boolean fits(Owner o, int units, String mode) {
    return holder == null;
  }

  @Override
  Hold take(Owner o, int units, String mode) {
    holder = o;
    count = 1;
    hold = new Hold(o, this, 1, null);
    return hold;
  }

  /** under m: the uncontended path (no Hold object until a waiter needs one) */
  private void takeFree(Owner o) {
    holder = o;
    count = 1;
    hold = null;
  }

  @Override
  public void lock() {
    try {
      acquire(-1, false);
    } catch (InterruptedException e) {
      throw new AssertionError(e); // not interruptible
    }
  }

  @Override
  public void lockInterruptibly() throws InterruptedException {
    if (Thread.interrupted()) throw new InterruptedException();
    acquire(-1, true);
  }

  @Override
  public boolean tryLock() {
    try {
      return acquire(0, false);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Override
  public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
    if (Thread.interrupted()) throw new InterruptedException();
    return acquire(nanos(time, unit), true);
  }

  private boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
    Owner me = dd.owner();
    if (holder == me) {
      count++;
      return true;
    }
    if (!me.held.isEmpty()) dd.asked(me, this);
    m.lock();
    try {
      if (holder == null && queue.isEmpty()) {
        takeFree(me);
      } else if (timeoutNanos == 0 || await(me, 1, null, timeoutNanos, interruptible) == null) {
        return false;
      }
    } finally {
      m.unlock();
    }
    me.took(this);
    return true;
  }

  @Override
  public void unlock() {
    Owner me = dd.owner();
    if (holder != me) throw new IllegalMonitorStateException("'" + id + "' is not held by this thread");
    if (--count > 0) return;
    fullyRelease(me);
  }

  private void fullyRelease(Owner me) {
    m.lock();
    try {
      Hold h = hold;
      hold = null;
      holder = null;
      count = 0;
      if (h != null) released(h);
      if (!queue.isEmpty()) grantWaiting();
    } finally {
      m.unlock();
    }
    me.gave(this);
  }

  /** true if the current thread (or task) holds it */
  public boolean isHeldByCurrentThread() {
    return holder == dd.owner();
  }

  public boolean isLocked() {
    return holder != null;
  }

  /** re-acquisitions by the current holder (0 if it does not hold it) */
  public int getHoldCount() {
    return holder == dd.owner() ? count : 0;
  }

  public String name() {
    return id;
  }

  @Override
  public Condition newCondition() {
    return new Cond();
  }

  @Override
  public String toString() {
    Owner h = holder;
    return "DLock[" + id + (h == null ? ", unlocked]" : ", held by " + h.name + "]");
  }

  /** A condition of this lock: await releases it fully and re-acquires it (a reported wait if contended). */
  private final class Cond implements Condition {
    private final ArrayDeque<boolean[]> waiters = new ArrayDeque<>();
    private final Condition signalled = m.newCondition();

    private int release() {
      Owner me = dd.owner();
      if (holder != me) throw new IllegalMonitorStateException("'" + id + "' is not held by this thread");
      int saved = count;
      Hold h = hold;
      hold = null;
      holder = null;
      count = 0;
      if (h != null) released(h);
      grantWaiting();
      me.gave(DLock.this);
      return saved;
    }

    private void reacquire(int saved) {
      lock();
      count = saved;
    }

    /** waits until signalled or the deadline (nanoTime; Long.MAX_VALUE: none); true if signalled */
    private boolean await(long deadline, boolean interruptible) throws InterruptedException {
      boolean[] node = {false};
      int saved;
      InterruptedException interrupted = null;
      m.lock();
      try {
        waiters.add(node);
        saved = release();
        try {
          while (!node[0]) {
            if (deadline == Long.MAX_VALUE) {
              if (interruptible) signalled.await();
              else signalled.awaitUninterruptibly();
            } else {
              long left = deadline - System.nanoTime();
              if (left <= 0) break;
              signalled.awaitNanos(left);
            }
          }
        } catch (InterruptedException e) {
          interrupted = e;
        } finally {
          waiters.remove(node);
        }
      } finally {
        m.unlock();
        // re-acquired in every case, as the JDK's conditions do (the interrupt propagates afterwards)
      }
      reacquire(saved);
      if (interrupted != null) throw interrupted;
      return node[0];
    }

    @Override
    public void await() throws InterruptedException {
      if (Thread.interrupted()) throw new InterruptedException();
      awaitChecked(Long.MAX_VALUE);
    }

    private boolean awaitChecked(long deadline) throws InterruptedException {
      return await(deadline, true);
    }

    @Override
    public void awaitUninterruptibly() {
      try {
        await(Long.MAX_VALUE, false);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }

    @Override
    public long awaitNanos(long nanosTimeout) throws InterruptedException {
      if (Thread.interrupted()) throw new InterruptedException();
      long deadline = System.nanoTime() + nanosTimeout;
      awaitChecked(deadline);
      return deadline - System.nanoTime();
    }

    @Override
    public boolean await(long time, TimeUnit unit) throws InterruptedException {
      return awaitNanos(unit.toNanos(time)) > 0;
    }

    @Override
    public boolean awaitUntil(Date deadline) throws InterruptedException {
      return awaitNanos(TimeUnit.MILLISECONDS.toNanos(deadline.getTime() - System.currentTimeMillis())) > 0;
    }

    @Override
    public void signal() {
      check();
      m.lock();
      try {
        boolean[] n = waiters.poll();
        if (n != null) n[0] = true;
        signalled.signalAll();
      } finally {
        m.unlock();
      }
    }

    @Override
    public void signalAll() {
      check();
      m.lock();
      try {
        for (boolean[] n : waiters) n[0] = true;
        waiters.clear();
        signalled.signalAll();
      } finally {
        m.unlock();
      }
    }

    private void check() {
      if (holder != dd.owner()) throw new IllegalMonitorStateException("'" + id + "' is not held by this thread");
    }
  }
}
