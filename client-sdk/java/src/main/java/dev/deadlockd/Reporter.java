package dev.deadlockd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns holds and waits into wire events, cheaply: nothing is tracked for an uncontended acquire. A wait
 * is reported once it is {@code reportAfterMs} old, together with the holds of the resource it waits for
 * (every edge of a wait-for cycle is "waiter → holder of what it waits for", so that is all the daemon
 * needs); holds of shared (global) resources are reported on their own, since their waiters live in other
 * processes. Everything the daemon learnt is stamped with the epoch (one per connection) it learnt it in;
 * after a reconnect a snapshot describes the current state again. Only the link thread flushes.
 */
final class Reporter {
  private static final JsonNodeFactory J = JsonNodeFactory.instance;

  private final Deadlockd dd;
  private final long reportAfterNanos;
  private final int maxBufferedEvents;
  /** every pending wait, by id (lock-free: the contended path only) */
  final Map<String, Wait> pending = new ConcurrentHashMap<>();
  /** holds of global resources */
  final Set<Hold> globalHolds = ConcurrentHashMap.newKeySet();

  // guarded by this
  private int epoch;
  /**
   * The connection's daemon takes resource handles (welcome {@code features}): each resource declared in an epoch
   * gets the next integer, and its holds, waits and releases name it by that (the daemon finds it in an array slot,
   * not by a hash lookup of the name). A new epoch starts at 0 again: it begins with a snapshot, which replaces the
   * daemon's handles too.
   */
  private boolean handles;
  private int nextHandle;
  private boolean connected;
  private boolean snapshotNext;
  private ArrayList<ObjectNode> log = new ArrayList<>();
  private final Set<Owner> declaredThreads = new HashSet<>();
  private volatile Map<Res, Set<Res>> orderPairs = new ConcurrentHashMap<>();
  private boolean overflowWarned;
  private long eventsSent;

  Reporter(Deadlockd dd, long reportAfterMs, int maxBufferedEvents) {
    this.dd = dd;
    this.reportAfterNanos = reportAfterMs * 1_000_000L;
    this.maxBufferedEvents = maxBufferedEvents;
  }

  // ---- connection (link thread) ---------------------------------------------------------------

  /** A connection was welcomed; {@code handles}: its welcome lists the {@code handles} feature. */
  synchronized void attach(boolean first, boolean handles) {
    connected = true;
    this.handles = handles;
    newEpoch();
    orderPairs = new ConcurrentHashMap<>();
    declaredThreads.clear();
    log = new ArrayList<>();
    snapshotNext = !first || !pending.isEmpty() || !globalHolds.isEmpty();
  }

  synchronized void detach() {
    connected = false;
    newEpoch();
    log = new ArrayList<>();
  }

  synchronized long eventsSent() {
    return eventsSent;
  }

  // ---- app threads (under res.m) -----------------------------------------------------------------

  void waitBegan(Wait w) {
    pending.put(w.waitId, w);
    dd.link.reportIn(reportAfterNanos);
  }

  /** under w.res.m: granted with {@code hold}, or ended without a grant ({@code reason}) */
  void waitEnded(Wait w, Hold hold, String reason) {
    pending.remove(w.waitId);
    // a wait for a task's end: the daemon satisfies it itself when the task ends
    if (w.reportedEpoch < 0 || (hold == null && reason == null)) return;
    synchronized (this) {
      if (!connected || w.reportedEpoch != epoch) return;
      ObjectNode ev = J.objectNode();
      if (hold != null) {
        ev.put("type", "grant").put("waitId", w.waitId).put("since", hold.since());
        hold.reportedEpoch = epoch;
      } else {
        ev.put("type", "cancel").put("waitId", w.waitId).put("reason", reason);
      }
      push(ev);
    }
  }

  /** under h.res.m */
  void released(Hold h, int units) {
    synchronized (this) {
      if (!connected || h.reportedEpoch != epoch) return;
      ObjectNode ev = putRef(J.objectNode().put("type", "release").put("owner", h.owner.id), h.res);
      if (h.mode != null) ev.put("mode", h.mode);
      if (h.res.counted()) ev.put("units", units);
      push(ev);
    }
  }

  /** an owner's declaration changed (a queued task started running: now abortable) */
  synchronized void ownerChanged(Owner o) {
    if (connected && o.declaredEpoch == epoch) {
      o.declaredEpoch = -1;
      declareOwner(o);
      dd.link.flushSoon();
    }
  }

  synchronized void ownerEnded(Owner o) {
    o.ended = true;
    if (connected && o.declaredEpoch == epoch) push(J.objectNode().put("type", "end").put("owner", o.id));
  }

  /** Is (held → acquired) new on this connection? Marks it seen. */
  boolean isNewOrder(Res held, Res acquired) {
    Map<Res, Set<Res>> pairs = orderPairs;
    Res.OrderSeen seen = acquired.orderSeen;
    if (seen != null && seen.held() == held && seen.pairs() == pairs) return false;
    boolean isNew = pairs.computeIfAbsent(held, k -> ConcurrentHashMap.newKeySet()).add(acquired);
    acquired.orderSeen = new Res.OrderSeen(held, pairs);
    return isNew;
  }

  synchronized void order(Owner o, Res held, Res acquired, String stack) {
    if (!connected) return;
    declareResource(held);
    declareResource(acquired);
    declareOwner(o);
    ObjectNode ev = J.objectNode().put("type", "order").put("held", held.id).put("acquired", acquired.id).put("owner", o.id);
    if (stack != null) ev.put("stack", stack);
    push(ev);
  }

  /** Resource changed (capacity): declare it again if the daemon knows it. */
  synchronized void resourceChanged(Res r) {
    if (connected && r.declaredEpoch == epoch) push(declaration(r));
  }

  // ---- flushing (link thread) ---------------------------------------------------------------------

  /** Report what is due; returns the nanos until the next report is due (or -1), and the frames to send. */
  long reportDue() {
    long now = System.nanoTime();
    long next = -1;
    int ep;
    synchronized (this) {
      if (!connected) return -1;
      ep = epoch;
      endDeadThreads();
    }
    List<Wait> due = new ArrayList<>();
    for (Wait w : pending.values()) {
      if (w.reportedEpoch == ep) continue;
      long left = w.startNanos + reportAfterNanos - now;
      if (left > 0) next = next < 0 ? left : Math.min(next, left);
      else due.add(w);
    }
    due.sort(Comparator.comparingLong(w -> w.startNanos));
    for (Wait w : due) {
      w.res.m.lock();
      try {
        if (w.done) continue;
        if (w.task == null) for (Hold h : w.res.holds()) reportHold(h);
        reportWait(w);
      } finally {
        w.res.m.unlock();
      }
    }
    List<Hold> holds = new ArrayList<>();
    for (Hold h : globalHolds) {
      if (h.reportedEpoch == ep) continue;
      long left = h.startNanos + reportAfterNanos - now;
      if (left > 0) next = next < 0 ? left : Math.min(next, left);
      else holds.add(h);
    }
    holds.sort(Comparator.comparingLong(h -> h.startNanos));
    for (Hold h : holds) {
      h.res.m.lock();
      try {
        if (globalHolds.contains(h)) reportHold(h);
      } finally {
        h.res.m.unlock();
      }
    }
    return next;
  }

  /** Take the log: [kind, events] where kind is "snapshot" or "events"; null when there is nothing to send. */
  synchronized Object[] take() {
    if (!connected) return null;
    boolean snap = snapshotNext;
    snapshotNext = false;
    if (log.isEmpty() && !snap) return null;
    List<ObjectNode> out = log;
    log = new ArrayList<>();
    eventsSent += out.size();
    return new Object[] {snap ? "snapshot" : "events", out};
  }

  /** under h.res.m: tell the daemon of this hold now (a downgrade: the read hold must precede the write's release) */
  void holdNow(Hold h) {
    reportHold(h);
  }

  /** under h.res.m */
  private void reportHold(Hold h) {
    synchronized (this) {
      if (!connected || h.reportedEpoch == epoch) return;
      declareOwner(h.owner);
      declareResource(h.res);
      ObjectNode ev = putRef(J.objectNode().put("type", "hold").put("owner", h.owner.id), h.res).put("since", h.since());
      if (h.mode != null) ev.put("mode", h.mode);
      if (h.res.counted()) ev.put("units", h.units);
      String stack = Sites.format(h.site);
      if (stack != null) ev.put("stack", stack);
      h.reportedEpoch = epoch;
      push(ev);
    }
  }

  /** under w.res.m */
  private void reportWait(Wait w) {
    synchronized (this) {
      if (!connected) return;
      declareOwner(w.owner);
      declareResource(w.res);
      ObjectNode ev = J.objectNode().put("type", "wait").put("waitId", w.waitId).put("owner", w.owner.id);
      if (w.task != null) {
        declareOwner(w.task);
        ev.put("task", w.task.id);
      } else {
        putRef(ev, w.res);
      }
      if (w.mode != null) ev.put("mode", w.mode);
      if (w.res.counted() && w.task == null) ev.put("units", w.units);
      ev.put("since", w.since);
      String stack = Sites.format(w.site);
      if (stack != null) ev.put("stack", stack);
      w.reportedEpoch = epoch;
      push(ev);
    }
  }

  // ---- under this -----------------------------------------------------------------------------

  private void push(ObjectNode ev) {
    log.add(ev);
    if (log.size() > maxBufferedEvents) {
      // too much buffered (the link is slow): drop it and resync with a snapshot, which is exact
      if (!overflowWarned) {
        overflowWarned = true;
        dd.log.log(System.Logger.Level.WARNING, "deadlockd: event buffer exceeded " + maxBufferedEvents + " events; resyncing with a snapshot");
      }
      newEpoch();
      orderPairs = new ConcurrentHashMap<>();
      declaredThreads.clear();
      log = new ArrayList<>();
      snapshotNext = true;
    }
    dd.link.flushSoon();
  }

  private void declareResource(Res r) {
    if (r.declaredEpoch == epoch) return;
    r.declaredEpoch = epoch;
    if (handles) r.handle = nextHandle++;
    log.add(declaration(r));
  }

  /** the resource's declaration, with its handle when the daemon takes handles */
  private ObjectNode declaration(Res r) {
    ObjectNode ev = r.declaration();
    if (handles) ev.put("handle", r.handle);
    return ev;
  }

  /** names a resource declared in this epoch in a hold, wait or release: by handle or by name */
  private ObjectNode putRef(ObjectNode ev, Res r) {
    return handles ? ev.put("resource", r.handle) : ev.put("resource", r.id);
  }

  /** a new connection, a lost one or a resync: declarations are sent again, handles numbered from 0 */
  private void newEpoch() {
    epoch++;
    nextHandle = 0;
  }

  private void declareOwner(Owner o) {
    if (o.declaredEpoch == epoch) return;
    o.declaredEpoch = epoch;
    if (o.thread != null) declaredThreads.add(o);
    log.add(J.objectNode().put("type", "owner").put("owner", o.id).put("name", o.name).put("priority", o.priority)
        .put("abortable", o.abortable).put("startedAt", o.startedAt));
  }

  /** thread owners end when their thread does (the daemon then drops what they had) */
  private void endDeadThreads() {
    for (Iterator<Owner> it = declaredThreads.iterator(); it.hasNext(); ) {
      Owner o = it.next();
      Thread t = o.thread.get();
      if (t == null || !t.isAlive()) {
        it.remove();
        if (o.declaredEpoch == epoch) log.add(J.objectNode().put("type", "end").put("owner", o.id));
      }
    }
  }

  static ArrayNode array(List<ObjectNode> events, int from, int to) {
    ArrayNode a = J.arrayNode();
    for (int i = from; i < to; i++) a.add(events.get(i));
    return a;
  }

  static JsonNode node(Object o) {
    return (JsonNode) o;
  }
}
