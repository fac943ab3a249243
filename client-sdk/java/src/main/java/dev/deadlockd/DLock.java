package dev.deadlockd;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;

/**
 * A reentrant mutual-exclusion lock with the behaviour of a {@link java.util.concurrent.locks.ReentrantLock},
 * reported to deadlockd when contended. Re-acquisitions by the holder are counted here (the daemon sees the first
 * acquire and the last release), so reentrancy is never a deadlock. The victim of a deadlock gets a
 * {@link DeadlockException} from {@link #lock()} / {@link #lockInterruptibly()}.
 *
 * <p>Uncontended, {@code lock()} is one compare-and-set of {@link #holder} and {@code unlock()} one volatile write:
 * no allocation, no clock, no map, nothing for the link. Once a thread has to wait, {@link #contended} sends
 * acquire and release through {@code m} and the queue: grants are FIFO, handed from the holder straight to the
 * head waiter (the holder field never passes through null then, so nobody barges past the queue).
 */
public final class DLock extends Res implements Lock {
  private static final VarHandle HOLDER;

  static {
    try {
      HOLDER = MethodHandles.lookup().findVarHandle(DLock.class, "holder", Owner.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** who holds it (null: free); compare-and-set when free, else changed by its holder only */
  private volatile Owner holder;
  /** re-acquisitions; touched by the holder only (and by the hand-off that makes a waiter the holder, under m) */
  private int count;
  /**
   * true while waiters may be queued or the daemon may know of the current hold: acquire and release then go
   * through m. Written under m only: set before a slow acquire looks at the holder, and after every change of the
   * queue or of {@link #hold} to {@link #settle()}'s answer. A fast release writes holder = null and then reads this
   * (and a waiter writes this, then reads holder), so one of the two always sees the other and the waiter is granted.
   */
  private volatile boolean contended;
  /** the daemon's view of the hold, made under m only when a waiter needs it reported (an uncontended lock has none) */
  private volatile Hold hold;
  /** lockdep-style lock class (null: none) */
  final String lockClass;

  DLock(Deadlockd dd, String name, String lockClass) {
    super(dd, name);
    this.lockClass = lockClass;
  }

  @Override
  ObjectNode declaration() {
    ObjectNode d = JsonNodeFactory.instance.objectNode().put("type", "resource").put("resource", id).put("kind", "mutex").put("scope", "local")
        .put("fifo", true).put("reentrant", true);
    if (lockClass != null) d.put("class", lockClass);
    return d;
  }

  @Override
  Collection<Hold> holds() {
    // an uncontended acquire reads no clock: its hold is dated from when a waiter first needed it
    Owner h = holder;
    Hold x = hold;
    if (x != null && x.owner != h) {
      // a hold its owner gave back on the fast path while a waiter was arriving: the daemon gets its release here
      hold = null;
      released(x);
      x = null;
    }
    if (h == null) {
      settle();
      return List.of();
    }
    if (x == null) {
      x = new Hold(h, this, 1, null);
      hold = x;
    }
    settle();
    return List.of(x);
  }

  @Override
  boolean fits(Owner o, int units, String mode) {
    return holder == null;
  }

  @Override
  Hold take(Owner o, int units, String mode) {
    if (!HOLDER.compareAndSet(this, null, o)) throw new IllegalStateException("'" + id + "' is held");
    count = 1;
    Hold h = new Hold(o, this, 1, null);
    hold = h;
    return h;
  }

  /** under m: grant the head waiter if the lock is free (after a fast release, a cancel or an abort) */
  @Override
  void grantWaiting() {
    handOff(null);
  }

  /** under m: make the head waiter the holder if the holder is still {@code from} (null: free) */
  private void handOff(Owner from) {
    Wait w = queue.peek();
    if (w != null && HOLDER.compareAndSet(this, from, w.owner)) {
      queue.poll();
      count = 1;
      Hold h = new Hold(w.owner, this, 1, null);
      hold = h;
      w.hold = h;
      w.done = true;
      w.granted = true;
      dd.reporter.waitEnded(w, h, null);
      // a grant of a wait the daemon never heard of: no hold to tell it about either (made later if needed)
      if (h.reportedEpoch < 0) hold = null;
      w.cond.signal();
    }
    settle();
  }

  /** under m: must acquire and release go through m? (waiters, or a hold the daemon may know) */
  private void settle() {
    contended = !queue.isEmpty() || hold != null;
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
    Owner h = holder;
    if (h == me) {
      count++;
      return true;
    }
    if (me.heldCount > 0) dd.asked(me, this);
    if (h == null && !contended && HOLDER.compareAndSet(this, null, me)) {
      count = 1;
      me.took(this);
      return true;
    }
    return slowAcquire(me, timeoutNanos, interruptible);
  }

  private boolean slowAcquire(Owner me, long timeoutNanos, boolean interruptible) throws InterruptedException {
    m.lock();
    try {
      contended = true; // before looking at the holder (see the field)
      if (queue.isEmpty() && HOLDER.compareAndSet(this, null, me)) {
        count = 1;
        settle();
      } else if (timeoutNanos == 0) {
        settle();
        return false;
      } else if (await(me, 1, null, timeoutNanos, interruptible) == null) {
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
    Owner me = holder;
    if (me == null || !me.isCurrentThread()) {
      me = dd.owner();
      if (holder != me) throw new IllegalMonitorStateException("'" + id + "' is not held by this thread");
    }
    if (--count > 0) return;
    me.gave(this);
    if (!contended) {
      holder = null;
      if (!contended) return;
      // a waiter arrived while we released: grant it (and send the release of a hold reported meanwhile)
      m.lock();
      try {
        Hold x = hold;
        if (x != null && x.owner == me) {
          hold = null;
          released(x);
        }
        handOff(null);
      } finally {
        m.unlock();
      }
      return;
    }
    m.lock();
    try {
      releaseLocked(me);
    } finally {
      m.unlock();
    }
  }

  /** under m, by the holder: the hold ends; the head waiter (if any) becomes the holder */
  private void releaseLocked(Owner me) {
    Hold x = hold;
    if (x != null) {
      hold = null;
      released(x);
    }
    count = 0;
    if (queue.isEmpty()) {
      holder = null;
      settle();
    } else {
      handOff(me);
    }
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
      releaseLocked(me);
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
