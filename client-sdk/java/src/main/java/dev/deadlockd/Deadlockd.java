package dev.deadlockd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A connection to the deadlockd daemon and the registry of named locks. Owners are threads (virtual
 * threads included), or tasks run with {@link #task}. Everything keeps working when the daemon is down
 * (fail-open): only detection is off until the link is back.
 *
 * <pre>{@code
 * Deadlockd dd = Deadlockd.connect("ws://127.0.0.1:7070/v1/stream", "orders");
 * Lock a = dd.lock("account:1");
 * }</pre>
 */
public final class Deadlockd implements AutoCloseable {
  /** Connection options; the defaults keep the SDK cheap. */
  public static final class Options {
    String url;
    String service;
    String instance;
    String token;
    long reportAfterMs = 2;
    long flushIntervalMs = 1;
    long connectTimeoutMs = 2000;
    boolean reconnect = true;
    long minReconnectDelayMs = 100;
    long maxReconnectDelayMs = 5000;
    boolean captureStacks = true;
    int maxBufferedEvents = 100_000;

    public Options(String url, String service) {
      if (url == null || url.isEmpty()) throw new IllegalArgumentException("connect: url is required");
      if (service == null || service.isEmpty()) throw new IllegalArgumentException("connect: service is required");
      this.url = url;
      this.service = service;
    }

    /** default {@code host:pid} */
    public Options instance(String v) {
      instance = v;
      return this;
    }

    public Options token(String v) {
      token = v;
      return this;
    }

    /** waits younger than this never leave the JVM (default 2 ms; 0 reports every contended wait) */
    public Options reportAfterMs(long v) {
      reportAfterMs = nonNegative(v, "reportAfterMs");
      return this;
    }

    /** batch events for this long before sending (default 1 ms) */
    public Options flushIntervalMs(long v) {
      flushIntervalMs = nonNegative(v, "flushIntervalMs");
      return this;
    }

    /** connect() returns after this without a welcome (fail-open; default 2000 ms) */
    public Options connectTimeoutMs(long v) {
      connectTimeoutMs = nonNegative(v, "connectTimeoutMs");
      return this;
    }

    /** false: never reconnect; default true, backoff 100 ms .. 5 s jittered */
    public Options reconnect(boolean v) {
      reconnect = v;
      return this;
    }

    public Options reconnectDelays(long minMs, long maxMs) {
      minReconnectDelayMs = Math.max(1, minMs);
      maxReconnectDelayMs = Math.max(minReconnectDelayMs, maxMs);
      return this;
    }

    /** call sites of contended acquires (default true; captured only when a wait begins) */
    public Options captureStacks(boolean v) {
      captureStacks = v;
      return this;
    }

    /** bound on the outgoing buffer (default 100 000); over it the buffer is dropped and a snapshot resyncs */
    public Options maxBufferedEvents(int v) {
      maxBufferedEvents = Math.max(1, v);
      return this;
    }

    private static long nonNegative(long v, String what) {
      if (v < 0) throw new IllegalArgumentException(what + " must be >= 0");
      return v;
    }
  }

  final System.Logger log = System.getLogger("dev.deadlockd");
  final Options options;
  final Reporter reporter;
  final Link link;
  private final Map<String, Object> named = new ConcurrentHashMap<>();
  private final AtomicLong nextWait = new AtomicLong();
  private final AtomicLong nextOwner = new AtomicLong();
  private final ThreadLocal<Owner> current = new ThreadLocal<>();
  private final List<Consumer<JsonNode>> deadlockListeners = new CopyOnWriteArrayList<>();
  private final List<Consumer<JsonNode>> hazardListeners = new CopyOnWriteArrayList<>();
  private final java.util.Set<Res> warnedNested = ConcurrentHashMap.newKeySet();

  private Deadlockd(Options o) {
    if (o.instance == null) o.instance = defaultInstance();
    this.options = o;
    this.reporter = new Reporter(this, o.reportAfterMs, o.maxBufferedEvents);
    this.link = new Link(this, o);
  }

  /** Connect; returns at the daemon's welcome, or after the connect timeout without one (fail-open, one warning). */
  public static Deadlockd connect(String url, String service) {
    return connect(new Options(url, service));
  }

  public static Deadlockd connect(Options o) {
    Deadlockd dd = new Deadlockd(o);
    dd.link.start();
    return dd;
  }

  /** true while a welcomed connection is open */
  public boolean connected() {
    return link.connected();
  }

  public String service() {
    return options.service;
  }

  /** events sent to the daemon so far */
  public long eventsSent() {
    return reporter.eventsSent();
  }

  /** A reentrant {@link java.util.concurrent.locks.Lock}, like {@link java.util.concurrent.locks.ReentrantLock} (FIFO). */
  public DLock lock(String name) {
    return lock(name, null);
  }

  /**
   * A lock of lock class {@code lockClass}, as in Linux lockdep (e.g. "account" for every {@code account:<id>} lock):
   * the daemon reasons about nesting per class, so two accounts locked one inside the other are reported the first
   * time, before the opposite order ever runs. null: no class.
   */
  public DLock lock(String name, String lockClass) {
    checkClass(lockClass);
    DLock l = lookup(name, DLock.class, () -> new DLock(this, name, lockClass));
    sameClass(name, l.lockClass, lockClass);
    return l;
  }

  /** A reentrant, fair {@link java.util.concurrent.locks.ReadWriteLock}; an upgrade deadlock is one DeadlockException. */
  public DReadWriteLock readWriteLock(String name) {
    return readWriteLock(name, null);
  }

  /** A read-write lock of lock class {@code lockClass} (see {@link #lock(String, String)}); null: no class. */
  public DReadWriteLock readWriteLock(String name, String lockClass) {
    checkClass(lockClass);
    DReadWriteLock l = lookup(name, DReadWriteLock.class, () -> new DReadWriteLock(this, name, lockClass));
    sameClass(name, l.lockClass, lockClass);
    return l;
  }

  /** A counting semaphore of {@code permits} (FIFO); a holder asking for more is a nested checkout (a hazard). */
  public DSemaphore semaphore(String name, int permits) {
    return lookup(name, DSemaphore.class, () -> new DSemaphore(this, name, permits));
  }

  /** a semaphore whose holds remember where they were taken (pool checkouts: the nested-checkout warning shows both sites) */
  DSemaphore semaphoreWithSites(String name, int permits, String label) {
    return lookup(name, DSemaphore.class, () -> new DSemaphore(this, name, permits, true, label));
  }

  /** A lock shared by every client of the namespace that the SDK reports but does not grant (a distributed lock). */
  public SharedResource resource(String name) {
    return lookup(name, SharedResource.class, () -> new SharedResource(this, name));
  }

  /**
   * Wrap a fixed pool of {@code slots} threads: its slots are a counted resource, each task an owner, and
   * {@code get()}/{@code join()} on a task's {@link DExecutor.TaskFuture} a wait on that task. A task that blocks
   * on a subtask queued to the same full pool (thread-starvation deadlock) gets one DeadlockException.
   */
  public DExecutor executor(String name, java.util.concurrent.ExecutorService pool, int slots) {
    return lookup(name, DExecutor.class, () -> new DExecutor(this, name, pool, slots));
  }

  Owner newTaskOwner(String name, int priority, boolean abortable) {
    return new Owner("k" + nextOwner.incrementAndGet(), name, priority, null, abortable);
  }

  /** run fn as owner o in this thread (o ends afterwards) */
  <T> T runAs(Owner o, Callable<T> fn) throws Exception {
    Owner prev = current.get();
    current.set(o);
    if (prev != null) prev.shadowed++;
    try {
      return fn.call();
    } finally {
      if (prev != null) prev.shadowed--;
      current.set(prev);
    }
  }

  /** Run {@code fn} in this thread as a new owner (task) named {@code name}; higher priority = kept alive. */
  public <T> T task(String name, int priority, Callable<T> fn) throws Exception {
    Owner prev = current.get();
    Owner o = new Owner("k" + nextOwner.incrementAndGet(), name, priority, null);
    current.set(o);
    if (prev != null) prev.shadowed++;
    try {
      return fn.call();
    } finally {
      if (prev != null) prev.shadowed--;
      current.set(prev);
      reporter.ownerEnded(o);
    }
  }

  public <T> T task(String name, Callable<T> fn) throws Exception {
    return task(name, 0, fn);
  }

  /** Called with each deadlock report one of this client's owners is a member of (on the link thread). */
  public void onDeadlock(Consumer<JsonNode> listener) {
    deadlockListeners.add(listener);
  }

  /** Called with each hazard (lock-order inversion, nested checkout) this client contributed a site to. */
  public void onHazard(Consumer<JsonNode> listener) {
    hazardListeners.add(listener);
  }

  /** Run fn; when it fails with a DeadlockException run it again (at most {@code attempts} times in all). */
  public static <T> T retryOnDeadlock(Callable<T> fn) throws Exception {
    return retryOnDeadlock(fn, 5);
  }

  public static <T> T retryOnDeadlock(Callable<T> fn, int attempts) throws Exception {
    for (int i = 1; ; i++) {
      try {
        return fn.call();
      } catch (DeadlockException e) {
        if (i >= attempts) throw e;
        Thread.sleep(Math.min(200, 5L << i) + java.util.concurrent.ThreadLocalRandom.current().nextInt(10));
      }
    }
  }

  /** Flush and close the link; the locks keep working locally afterwards. */
  @Override
  public void close() {
    link.close();
  }

  // ---- internals --------------------------------------------------------------------------------

  Owner owner() {
    Owner o = current.get();
    if (o == null) {
      Thread t = Thread.currentThread();
      o = new Owner("t" + nextOwner.incrementAndGet(), t.getName().isEmpty() ? "thread-" + t.getId() : t.getName(), 0, t);
      current.set(o);
    }
    return o;
  }

  String newWaitId() {
    return "w" + nextWait.incrementAndGet();
  }

  StackTraceElement[] captureSite() {
    return options.captureStacks ? Sites.capture() : null;
  }

  /** lock order, as lockdep: {@code o} asks for {@code acquired} while holding its newest hold */
  void asked(Owner o, Res acquired) {
    int n = o.heldCount;
    if (n == 0) return;
    Res newest = o.held[n - 1];
    fact(o, newest, acquired);
    if (acquired.counted() && newest != acquired) {
      for (int i = n - 2; i >= 0; i--) {
        if (o.held[i] == acquired) {
          fact(o, acquired, acquired);
          return;
        }
      }
    }
  }

  private void fact(Owner o, Res held, Res acquired) {
    boolean nested = held == acquired && acquired.counted();
    boolean warn = nested && warnedNested.add(acquired);
    boolean report = reporter.isNewOrder(held, acquired);
    if (!warn && !report) return;
    StackTraceElement[] site = captureSite();
    if (warn) {
      log.log(System.Logger.Level.WARNING, "deadlockd: nested checkout: '" + o.name + "' asked for another unit of '" + acquired.id
          + "' while holding one; with as many such threads at once as it has units, they deadlock. Pass the unit you hold "
          + "down instead. " + Sites.first(site) + acquired.nestedDetail(o));
    }
    if (report) reporter.order(o, held, acquired, Sites.format(site));
  }

  void onFrame(String type, JsonNode f) {
    switch (type) {
      case "abort" -> onAbort(f);
      case "confirm" -> onConfirm(f);
      case "deadlock" -> notify(deadlockListeners, f.get("report"));
      case "hazard" -> notify(hazardListeners, f.get("hazard"));
      case "error" -> log.log(System.Logger.Level.WARNING, "deadlockd: daemon error " + f.path("code").asText()
          + (f.path("fatal").asBoolean() ? " (fatal)" : "") + ": " + f.path("message").asText());
      default -> { /* unknown frames (a newer daemon) are ignored */ }
    }
  }

  private void notify(List<Consumer<JsonNode>> ls, JsonNode payload) {
    if (payload == null || !payload.isObject()) return;
    for (Consumer<JsonNode> l : ls) {
      try {
        l.accept(payload);
      } catch (RuntimeException e) {
        log.log(System.Logger.Level.WARNING, "deadlockd: a listener threw", e);
      }
    }
  }

  /**
   * Reject exactly that pending wait; the cancel reaches the daemon before the answer. An abort that may
   * have expired (the daemon's clock may be past expiresAt) is refused: the daemon chooses another victim.
   */
  private void onAbort(JsonNode f) {
    if (!f.path("deadlock").isTextual() || !f.path("waitId").isTextual() || !f.path("owner").isTextual() || !f.path("report").isObject()) {
      return; // malformed: ignored
    }
    String id = f.get("deadlock").asText();
    String waitId = f.get("waitId").asText();
    Wait w = reporter.pending.get(waitId);
    String result = "stale";
    Long daemonNow = link.daemonClockAtMost();
    if (w != null && f.path("expiresAt").isNumber() && daemonNow != null && daemonNow > f.get("expiresAt").asLong()) {
      result = "expired";
      log.log(System.Logger.Level.WARNING, "deadlockd: abort for deadlock " + id + " arrived after it expired; not carried out");
    } else if (w != null && w.owner.id.equals(f.get("owner").asText())) {
      if (w.res.abort(w, new DeadlockException(id, f.get("report")))) result = "aborted";
    }
    link.flush();
    link.sendControl(Link.JSON.createObjectNode().put("type", "abort_result").put("deadlock", id).put("waitId", waitId).put("result", result));
  }

  private void onConfirm(JsonNode f) {
    if (!f.path("check").isTextual() || !f.path("waits").isArray()) return;
    link.flush();
    ArrayNode pending = Link.JSON.createArrayNode();
    for (JsonNode w : f.get("waits")) if (reporter.pending.containsKey(w.asText())) pending.add(w.asText());
    ObjectNode r = Link.JSON.createObjectNode().put("type", "confirm_result").put("check", f.get("check").asText());
    r.set("pending", pending);
    link.sendControl(r);
  }

  private <P> P lookup(String name, Class<P> kind, java.util.function.Supplier<P> make) {
    if (name == null || name.isEmpty() || name.length() > 256) throw new IllegalArgumentException("a resource name is 1 to 256 characters");
    Object found = named.computeIfAbsent(name, k -> make.get());
    if (!kind.isInstance(found)) {
      throw new IllegalArgumentException("'" + name + "' is already a " + found.getClass().getSimpleName() + "; one name, one kind");
    }
    return kind.cast(found);
  }

  private static void checkClass(String lockClass) {
    if (lockClass != null && (lockClass.isEmpty() || lockClass.length() > 256)) {
      throw new IllegalArgumentException("a lock class is 1 to 256 characters");
    }
  }

  private static void sameClass(String name, String had, String asked) {
    if (asked != null && !asked.equals(had)) {
      throw new IllegalArgumentException("'" + name + "' already exists " + (had == null ? "without a lock class" : "of lock class '" + had + "'")
          + "; one name, one kind");
    }
  }

  private static String defaultInstance() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      host = "localhost";
    }
    return host + ":" + ProcessHandle.current().pid();
  }
}
