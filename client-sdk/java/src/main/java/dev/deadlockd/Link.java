package dev.deadlockd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The WebSocket link to the daemon (the JDK's {@link java.net.http.WebSocket}): hello → welcome, frames in
 * and out, heartbeat watchdog, reconnect with jittered backoff. Everything it does runs on one daemon
 * thread, "deadlockd-link"; it never throws at the application (fail-open: locks keep working, one warning
 * per outage).
 */
final class Link {
  static final int PROTOCOL = 1;
  private static final int SILENT_BEATS = 3;
  static final ObjectMapper JSON = new ObjectMapper();

  private final Deadlockd dd;
  private final Deadlockd.Options o;
  final ScheduledExecutorService thread;
  private final ExecutorService io;
  private final HttpClient http;
  private final CountDownLatch firstWelcome = new CountDownLatch(1);
  private final AtomicBoolean flushQueued = new AtomicBoolean();
  private final AtomicBoolean reportQueued = new AtomicBoolean();

  // link thread only
  private WebSocket ws;
  private boolean welcomed;
  private boolean everWelcomed;
  private boolean closed;
  private String session;
  private String resumeSecret;
  private int attempt;
  private long helloSentNanos;
  private Long serverTime;
  private long serverTimeHelloNanos;
  private int maxEventsPerFrame = 1000;
  private int maxFrameBytes = 1 << 20;
  private volatile long heardNanos;
  private ScheduledFuture<?> watchdog;
  private boolean warned;
  private int seq;
  private CompletableFuture<?> sending = CompletableFuture.completedFuture(null);
  private final AtomicInteger generation = new AtomicInteger();

  Link(Deadlockd dd, Deadlockd.Options o) {
    this.dd = dd;
    this.o = o;
    this.thread = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "deadlockd-link"));
    this.io = Executors.newCachedThreadPool(r -> daemon(r, "deadlockd-io"));
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).executor(io).connectTimeout(Duration.ofMillis(Math.max(1, o.connectTimeoutMs))).build();
  }

  /** this machine's name for hello.host ('' when it cannot be had); looked up once */
  private static final String HOST = lookUpHost();

  private static String lookUpHost() {
    try {
      String h = java.net.InetAddress.getLocalHost().getHostName();
      return h.length() > 256 ? h.substring(0, 256) : h;
    } catch (Exception e) {
      return "";
    }
  }

  private static String hostName() {
    return HOST;
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** Connect; returns at the first welcome or after connectTimeoutMs (fail-open). */
  void start() {
    thread.execute(this::open);
    thread.scheduleWithFixedDelay(this::flush, 1, 1, TimeUnit.SECONDS);
    try {
      if (!firstWelcome.await(o.connectTimeoutMs, TimeUnit.MILLISECONDS)) {
        thread.execute(() -> warnDown("no welcome within " + o.connectTimeoutMs + " ms"));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  boolean connected() {
    return firstWelcome.getCount() == 0 && welcomedFlag;
  }

  private volatile boolean welcomedFlag;

  /** an event was logged: flush on the link thread soon (batched: one task however many events) */
  void flushSoon() {
    if (flushQueued.compareAndSet(false, true)) {
      try {
        thread.schedule(() -> {
          flushQueued.set(false);
          flush();
        }, o.flushIntervalMs, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        flushQueued.set(false); // closed: the locks keep working, nothing is sent
      }
    }
  }

  /** a wait began: look again when it is due */
  void reportIn(long nanos) {
    if (reportQueued.compareAndSet(false, true)) {
      try {
        thread.schedule(() -> {
          reportQueued.set(false);
          flush();
        }, nanos, TimeUnit.NANOSECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        reportQueued.set(false);
      }
    }
  }

  /** link thread: report what is due and send it */
  void flush() {
    if (!welcomed) return;
    long next = dd.reporter.reportDue();
    Object[] t = dd.reporter.take();
    if (t != null) {
      @SuppressWarnings("unchecked")
      List<ObjectNode> events = (List<ObjectNode>) t[1];
      sendEvents((String) t[0], events);
    }
    if (next >= 0) reportIn(next);
  }

  /**
   * Events per frame at most, whatever more the daemon takes: the daemon cannot pause inside one frame's
   * JSON parse and checks, and a 10,000-event frame (its default limit) held its event loop 10-20 ms for
   * every client; frames of 2,000 cost it 2-4 ms each.
   */
  static final int EVENTS_PER_FRAME = 2_000;

  private void sendEvents(String kind, List<ObjectNode> events) {
    boolean snapshot = kind.equals("snapshot");
    int per = Math.max(1, Math.min(maxEventsPerFrame, EVENTS_PER_FRAME));
    int i = 0;
    do {
      int end = Math.min(events.size(), i + per);
      sendPart(kind, events, i, end, snapshot && end < events.size());
      i = end;
    } while (i < events.size());
  }

  private void sendPart(String kind, List<ObjectNode> events, int from, int to, boolean more) {
    ObjectNode f = JSON.createObjectNode().put("type", kind).put("seq", ++seq);
    f.set("events", Reporter.array(events, from, to));
    if (more) f.put("more", true);
    String text = f.toString();
    if (text.length() > maxFrameBytes && to - from > 1) {
      seq--;
      int mid = (from + to) / 2;
      sendPart(kind, events, from, mid, kind.equals("snapshot") || more);
      sendPart(kind, events, mid, to, more);
      return;
    }
    sendText(text);
  }

  void sendControl(ObjectNode frame) {
    sendText(frame.toString());
  }

  private void sendText(String text) {
    WebSocket w = ws;
    if (w == null || !welcomed) return;
    // the JDK's WebSocket takes one send at a time: chain them
    sending = sending.handle((v, e) -> null).thenCompose(v -> w.sendText(text, true));
  }

  void close() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    thread.execute(() -> {
      flush();
      closed = true;
      WebSocket w = ws;
      if (w != null) {
        sending.handle((v, e) -> null).thenCompose(v -> w.sendClose(1000, "client closing"))
            .orTimeout(1, TimeUnit.SECONDS).whenComplete((v, e) -> {
              w.abort();
              done.complete(null);
            });
      } else {
        done.complete(null);
      }
      firstWelcome.countDown();
    });
    try {
      done.get(2, TimeUnit.SECONDS);
    } catch (Exception e) {
      // closing anyway
    }
    dd.reporter.detach();
    thread.shutdownNow();
    io.shutdownNow();
  }

  /** run on the link thread; after close() nothing runs */
  private void exec(Runnable r) {
    try {
      thread.execute(r);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed
    }
  }

  /** An upper bound of the daemon's clock now (ms), or null if it did not say its time. */
  Long daemonClockAtMost() {
    return serverTime == null ? null : serverTime + (System.nanoTime() - serverTimeHelloNanos) / 1_000_000L;
  }

  // ---- link thread ----------------------------------------------------------------------------

  private void open() {
    if (closed) return;
    final int gen = generation.incrementAndGet();
    URI uri;
    try {
      uri = URI.create(o.url);
    } catch (IllegalArgumentException e) {
      warnDown(e.getMessage());
      return;
    }
    http.newWebSocketBuilder().connectTimeout(Duration.ofMillis(Math.max(1, o.connectTimeoutMs)))
        .buildAsync(uri, new Listener(gen))
        .whenComplete((w, err) -> exec(() -> {
          if (gen != generation.get()) {
            if (w != null) w.abort();
            return;
          }
          if (err != null) {
            warnDown(String.valueOf(err.getCause() != null ? err.getCause().getMessage() : err.getMessage()));
            scheduleReconnect();
            return;
          }
          onOpen(w, gen);
        }));
  }

  private void onOpen(WebSocket w, int gen) {
    if (closed) {
      w.abort();
      return;
    }
    ws = w;
    heardNanos = System.nanoTime();
    ObjectNode hello = JSON.createObjectNode().put("type", "hello").put("protocol", PROTOCOL).put("service", o.service)
        .put("instance", o.instance).put("pid", ProcessHandle.current().pid());
    String host = hostName();
    if (!host.isEmpty()) hello.put("host", host);
    if (o.token != null) hello.put("token", o.token);
    if (session != null) {
      hello.put("resume", session);
      if (resumeSecret != null) hello.put("resumeSecret", resumeSecret);
    }
    helloSentNanos = System.nanoTime();
    sending = w.sendText(hello.toString(), true);
    thread.schedule(() -> {
      if (gen == generation.get() && !welcomed && ws == w) {
        warnDown("no welcome within " + o.connectTimeoutMs + " ms");
        w.abort();
        lost(w);
      }
    }, o.connectTimeoutMs, TimeUnit.MILLISECONDS);
  }

  private void onText(WebSocket w, String text) {
    if (w != ws) return;
    JsonNode f;
    try {
      f = JSON.readTree(text);
    } catch (Exception e) {
      return; // not JSON: ignored
    }
    if (f == null || !f.isObject()) return;
    String type = f.path("type").asText("");
    if (type.equals("welcome")) {
      if (welcomed || !f.hasNonNull("session") || !f.path("limits").isObject()) return;
      welcomed = true;
      welcomedFlag = true;
      session = f.get("session").asText();
      resumeSecret = f.hasNonNull("resumeSecret") ? f.get("resumeSecret").asText() : null;
      attempt = 0;
      JsonNode lim = f.get("limits");
      maxEventsPerFrame = lim.path("maxEventsPerFrame").asInt(1000);
      maxFrameBytes = lim.path("maxFrameBytes").asInt(1 << 20);
      if (f.path("serverTime").isNumber()) {
        serverTime = f.get("serverTime").asLong();
        serverTimeHelloNanos = helloSentNanos;
      } else {
        serverTime = null;
      }
      long hb = f.path("heartbeatMs").asLong(0);
      if (hb > 0) startWatchdog(w, hb);
      if (warned) dd.log.log(System.Logger.Level.INFO, "deadlockd: connected to " + o.url);
      warned = false;
      boolean first = !everWelcomed;
      everWelcomed = true;
      dd.reporter.attach(first, hasFeature(f, "handles"));
      flush();
      firstWelcome.countDown();
      return;
    }
    if (!welcomed) {
      if (type.equals("error")) lastError = f.path("code").asText() + ": " + f.path("message").asText();
      return;
    }
    dd.onFrame(type, f);
  }

  private String lastError;

  private void startWatchdog(WebSocket w, long hb) {
    stopWatchdog();
    heardNanos = System.nanoTime();
    long limit = hb * SILENT_BEATS * 1_000_000L;
    watchdog = thread.scheduleWithFixedDelay(() -> {
      long silent = System.nanoTime() - heardNanos;
      if (ws != w || silent <= limit) return;
      lastError = "no ping or frame from the daemon for " + silent / 1_000_000L + " ms (it pings every " + hb + " ms)";
      w.abort();
      lost(w);
    }, hb, hb, TimeUnit.MILLISECONDS);
  }

  private void stopWatchdog() {
    if (watchdog != null) watchdog.cancel(false);
    watchdog = null;
  }

  /** the socket w is gone (closed, failed, or cut by us) */
  private void lost(WebSocket w) {
    if (w != ws) return;
    ws = null;
    stopWatchdog();
    boolean was = welcomed;
    welcomed = false;
    welcomedFlag = false;
    if (was) dd.reporter.detach();
    if (closed) return;
    String why = lastError != null ? lastError : "connection closed";
    lastError = null;
    warnDown(why);
    scheduleReconnect();
  }

  private void scheduleReconnect() {
    if (closed || !o.reconnect) return;
    long base = Math.min(o.maxReconnectDelayMs, o.minReconnectDelayMs * (1L << Math.min(attempt, 20)));
    attempt++;
    long delay = (long) (base * (0.5 + ThreadLocalRandom.current().nextDouble() * 0.5));
    generation.incrementAndGet();
    thread.schedule(this::open, delay, TimeUnit.MILLISECONDS);
  }

  private void warnDown(String why) {
    if (warned || closed) return;
    warned = true;
    dd.log.log(System.Logger.Level.WARNING, "deadlockd not reachable at " + o.url + " (" + why + "); locks keep working without deadlock "
        + "detection, " + (o.reconnect ? "reconnecting in the background" : "not reconnecting"));
  }

  private final class Listener implements WebSocket.Listener {
    private final int gen;
    private final StringBuilder partial = new StringBuilder();

    Listener(int gen) {
      this.gen = gen;
    }

    @Override
    public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
      heardNanos = System.nanoTime();
      partial.append(data);
      if (last) {
        String text = partial.toString();
        partial.setLength(0);
        exec(() -> Link.this.onText(w, text));
      }
      w.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
      heardNanos = System.nanoTime();
      w.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onPing(WebSocket w, ByteBuffer message) {
      heardNanos = System.nanoTime();
      w.request(1);
      return null; // the JDK answers the pong itself
    }

    @Override
    public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
      exec(() -> {
        if (lastError == null) lastError = "closed (" + code + (reason.isEmpty() ? "" : " " + reason) + ")";
        lost(w);
      });
      return null;
    }

    @Override
    public void onError(WebSocket w, Throwable error) {
      try {
        thread.execute(() -> {
          if (lastError == null) lastError = String.valueOf(error.getMessage());
          lost(w);
        });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // closed
      }
      if (gen < 0) throw new IllegalStateException();
    }
  }

  static ArrayNode arrayOf(Iterable<String> ids) {
    ArrayNode a = JSON.createArrayNode();
    for (String s : ids) a.add(s);
    return a;
  }

  /** does the welcome's {@code features} list name this one */
  private static boolean hasFeature(JsonNode welcome, String name) {
    for (JsonNode x : welcome.path("features")) if (name.equals(x.asText())) return true;
    return false;
  }
}
