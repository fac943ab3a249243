package dev.deadlockd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.deadlockd.DLock;
import dev.deadlockd.DeadlockException;
import dev.deadlockd.Deadlockd;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The protocol conformance suite (proto/conformance/*.json, generated from proto/src) from Java: the daemon half
 * against a real daemon process (the JDK's WebSocket client), and the SDK half with a fake daemon (FakeDaemon, a real
 * WebSocket server) playing each vector to this SDK. proto/conformance/README.md describes both.
 */
class ConformanceTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final long STEP_MS = DaemonProcess.STEP_MS;
  static DaemonProcess daemon;
  static JsonNode daemonSuite;

  @BeforeAll
  static void start() throws Exception {
    daemonSuite = JSON.readTree(DaemonProcess.REPO.resolve("proto/conformance/daemon.json").toFile());
    List<String> args = new ArrayList<>();
    daemonSuite.get("daemonArgs").forEach(a -> args.add(a.asText()));
    daemon = new DaemonProcess(args.toArray(String[]::new));
  }

  @AfterAll
  static void stop() {
    daemon.close();
  }

  // ---- matching, as test/src/conformance.ts ------------------------------------------------------

  /** every field of expected is in actual with an equal value (objects recursively; arrays exactly) */
  static boolean matches(JsonNode actual, JsonNode expected) {
    if (actual == null || actual.isMissingNode()) return false;
    if (expected.isNumber()) return actual.isNumber() && actual.decimalValue().compareTo(expected.decimalValue()) == 0;
    if (expected.isArray()) {
      if (!actual.isArray() || actual.size() != expected.size()) return false;
      for (int i = 0; i < expected.size(); i++) if (!matches(actual.get(i), expected.get(i))) return false;
      return true;
    }
    if (expected.isObject()) {
      if (!actual.isObject()) return false;
      for (Iterator<Map.Entry<String, JsonNode>> it = expected.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!matches(actual.get(e.getKey()), e.getValue())) return false;
      }
      return true;
    }
    return actual.equals(expected);
  }

  private static final Pattern NOW = Pattern.compile("^\\$now([+-]\\d+)?$");

  static JsonNode resolve(JsonNode v, Map<String, String> vars, long now) {
    if (v.isTextual()) {
      Matcher m = NOW.matcher(v.asText());
      if (m.matches()) return JsonNodeFactory.instance.numberNode(now + (m.group(1) == null ? 0 : Long.parseLong(m.group(1))));
      String s = v.asText();
      for (Map.Entry<String, String> e : vars.entrySet()) s = s.replace("$" + e.getKey(), e.getValue());
      return JsonNodeFactory.instance.textNode(s);
    }
    if (v.isArray()) {
      ArrayNode a = JsonNodeFactory.instance.arrayNode();
      v.forEach(x -> a.add(resolve(x, vars, now)));
      return a;
    }
    if (v.isObject()) {
      ObjectNode o = JsonNodeFactory.instance.objectNode();
      v.fields().forEachRemaining(e -> o.set(e.getKey(), resolve(e.getValue(), vars, now)));
      return o;
    }
    return v;
  }

  static List<JsonNode> flatten(List<JsonNode> frames) {
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode f : frames) {
      String t = f.path("type").asText();
      if (t.equals("events") || t.equals("snapshot")) {
        for (JsonNode e : f.get("events")) out.add(JsonNodeFactory.instance.objectNode().set("event", e));
      } else {
        out.add(f);
      }
    }
    return out;
  }

  /** the wait event on conf-lock, named by its name or by the handle its declaration gave it; null if none yet */
  static JsonNode waitOnConfLock(List<JsonNode> items) {
    JsonNode ref = JsonNodeFactory.instance.textNode("conf-lock");
    for (JsonNode x : items) {
      JsonNode e = x.path("event");
      String type = e.path("type").asText();
      if (type.equals("resource") && e.path("resource").asText().equals("conf-lock") && e.has("handle")) ref = e.get("handle");
      else if (type.equals("wait") && matches(e.get("resource"), ref)) return e;
    }
    return null;
  }

  static boolean inOrder(List<JsonNode> items, JsonNode patterns) {
    int i = 0;
    for (JsonNode p : patterns) {
      while (i < items.size() && !matches(items.get(i), p)) i++;
      if (i == items.size()) return false;
      i++;
    }
    return true;
  }

  static JsonNode await(List<JsonNode> frames, Predicate<JsonNode> pred, String what, BooleanHolder closed) throws InterruptedException {
    long deadline = System.currentTimeMillis() + STEP_MS;
    for (;;) {
      for (JsonNode f : frames) if (pred.test(f)) return f;
      if (closed != null && closed.value) throw new AssertionError("closed before " + what + "; got " + frames);
      if (System.currentTimeMillis() > deadline) throw new AssertionError("timed out waiting for " + what + "; got " + frames);
      Thread.sleep(5);
    }
  }

  static final class BooleanHolder {
    volatile boolean value;
    volatile int code;
  }

  // ---- daemon side ---------------------------------------------------------------------------------

  @TestFactory
  Stream<DynamicTest> daemonSide() {
    List<DynamicTest> tests = new ArrayList<>();
    for (JsonNode v : daemonSuite.get("vectors")) tests.add(DynamicTest.dynamicTest("daemon: " + v.get("name").asText(), () -> daemonVector(v)));
    return tests.stream();
  }

  private void daemonVector(JsonNode v) throws Exception {
    List<JsonNode> frames = new CopyOnWriteArrayList<>();
    BooleanHolder closed = new BooleanHolder();
    WebSocket ws = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().newWebSocketBuilder()
        .buildAsync(URI.create(daemon.url), new WebSocket.Listener() {
          final StringBuilder b = new StringBuilder();

          @Override
          public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
            b.append(data);
            if (last) {
              try {
                frames.add(JSON.readTree(b.toString()));
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
              b.setLength(0);
            }
            w.request(1);
            return null;
          }

          @Override
          public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
            closed.code = code;
            closed.value = true;
            return null;
          }

          @Override
          public void onError(WebSocket w, Throwable error) {
            closed.value = true;
          }
        }).get(STEP_MS, TimeUnit.MILLISECONDS);
    CompletableFuture<?> sending = CompletableFuture.completedFuture(null);
    try {
      if (v.get("helloFirst").asBoolean()) {
        ws.sendText(daemonSuite.get("hello").toString(), true).get(STEP_MS, TimeUnit.MILLISECONDS);
        await(frames, f -> f.path("type").asText().equals("welcome"), "the welcome", closed);
        frames.remove(0);
      }
      for (JsonNode s : v.get("send")) {
        String text = s.has("raw") ? s.get("raw").asText() : s.get("frame").toString();
        sending = ws.sendText(text, true);
        sending.get(STEP_MS, TimeUnit.MILLISECONDS);
      }
      long barrierSeq = daemonSuite.get("barrier").get("seq").asLong();
      Predicate<JsonNode> isBarrier = f -> f.path("type").asText().equals("error") && f.path("ref").path("seq").asLong(-1) == barrierSeq;
      if (v.get("then").asText().equals("open")) {
        ws.sendText(daemonSuite.get("barrier").toString(), true).get(STEP_MS, TimeUnit.MILLISECONDS);
        await(frames, isBarrier, "the barrier round trip (connection still open)", closed);
      } else {
        DaemonProcess.until(() -> closed.value, "the daemon to close the connection");
        assertTrue(closed.code >= 1000 || closed.code == 0, "closed with " + closed.code);
      }
      List<JsonNode> got = frames.stream().filter(isBarrier.negate()).toList();
      JsonNode expect = v.get("expect");
      assertEquals(expect.size(), got.size(), "frames: " + got);
      for (int i = 0; i < expect.size(); i++) assertTrue(matches(got.get(i), expect.get(i)), "frame " + i + ": " + got.get(i) + " does not match " + expect.get(i));
    } finally {
      ws.abort();
    }
  }

  // ---- SDK side -------------------------------------------------------------------------------------

  @TestFactory
  Stream<DynamicTest> sdkSide() throws Exception {
    JsonNode suite = JSON.readTree(DaemonProcess.REPO.resolve("proto/conformance/sdk.json").toFile());
    List<DynamicTest> tests = new ArrayList<>();
    for (JsonNode v : suite.get("vectors")) tests.add(DynamicTest.dynamicTest("sdk: " + v.get("name").asText(), () -> sdkVector(suite, v)));
    return tests.stream();
  }

  private void sdkVector(JsonNode suite, JsonNode v) throws Exception {
    FakeDaemon fake = new FakeDaemon();
    String url = fake.url();
    long now = System.currentTimeMillis();
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch releaseHolder = new CountDownLatch(1);
    Deadlockd[] dd = new Deadlockd[1];
    List<String> deadlocks = new CopyOnWriteArrayList<>();
    List<String> hazards = new CopyOnWriteArrayList<>();
    Thread connecting = new Thread(() -> dd[0] = Deadlockd.connect(new Deadlockd.Options(url, "conformance").instance("conformance-1")
        .reconnect(false).reportAfterMs(0).connectTimeoutMs(STEP_MS)));
    connecting.start();
    Thread waiter = null;
    try {
      JsonNode hello = await(fake.frames, f -> f.path("type").asText().equals("hello"), "the hello", null);
      assertTrue(matches(hello, suite.get("hello")), hello.toString());
      fake.send(resolve(v.get("welcome"), Map.of(), now));
      connecting.join(STEP_MS);
      Deadlockd c = dd[0];
      c.onDeadlock(r -> deadlocks.add(r.path("id").asText()));
      c.onHazard(h -> hazards.add(h.path("id").asText()));
      Map<String, String> vars = new java.util.HashMap<>();
      Object[] outcome = {null};
      if (v.get("setup").asText().equals("blocked-wait")) {
        DLock m = c.lock("conf-lock");
        Thread holder = new Thread(() -> {
          try {
            c.task("conf-holder", () -> {
              m.lock();
              try {
                holding.countDown();
                releaseHolder.await();
              } finally {
                m.unlock();
              }
              return null;
            });
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        holder.setDaemon(true);
        holder.start();
        assertTrue(holding.await(STEP_MS, TimeUnit.MILLISECONDS));
        waiter = new Thread(() -> {
          try {
            c.task("conf-waiter", () -> {
              m.lock();
              m.unlock();
              return null;
            });
            outcome[0] = "granted";
          } catch (Exception e) {
            outcome[0] = e;
          }
        });
        waiter.setDaemon(true);
        waiter.start();
        DaemonProcess.until(() -> waitOnConfLock(flatten(List.copyOf(fake.frames))) != null, "the wait on conf-lock");
        JsonNode ev = waitOnConfLock(flatten(List.copyOf(fake.frames)));
        vars.put("waitId", ev.get("waitId").asText());
        vars.put("owner", ev.get("owner").asText());
      }
      if (v.has("setupExpect")) {
        List<JsonNode> got = flatten(List.copyOf(fake.frames));
        assertTrue(inOrder(got, v.get("setupExpect")), "after the setup, in order: " + v.get("setupExpect") + "; got " + got);
      }
      int mark = fake.frames.size();
      for (JsonNode f : v.get("send")) fake.send(resolve(f, vars, now));
      JsonNode expected = resolve(v.get("expect"), vars, now);
      // a CopyOnWriteArrayList's subList is a live view that throws ConcurrentModificationException once the
      // reader thread appends; take a snapshot first and cut that.
      DaemonProcess.until(() -> {
        List<JsonNode> seen = List.copyOf(fake.frames);
        return inOrder(flatten(seen.subList(mark, seen.size())), expected);
      }, "in order: " + expected);
      String after = v.get("after").asText();
      if (after.equals("deadlock-error")) {
        Thread w = waiter;
        DaemonProcess.until(() -> !w.isAlive(), "the blocked acquire to fail");
        DeadlockException e = assertInstanceOf(DeadlockException.class, outcome[0]);
        assertEquals(v.get("deadlockId").asText(), e.deadlockId());
      } else if (after.equals("still-waiting")) {
        assertTrue(waiter.isAlive() && outcome[0] == null, "the blocked acquire is still pending");
      }
      if (v.has("eventsPerFrameAtMost")) {
        for (JsonNode f : fake.frames) {
          String t = f.path("type").asText();
          if (t.equals("events") || t.equals("snapshot")) assertTrue(f.get("events").size() <= v.get("eventsPerFrameAtMost").asInt(), f.toString());
        }
      }
      if (v.has("callbacks")) {
        JsonNode cb = v.get("callbacks");
        if (cb.has("deadlock")) {
          List<String> want = new ArrayList<>();
          cb.get("deadlock").forEach(x -> want.add(x.asText()));
          DaemonProcess.until(() -> deadlocks.size() >= want.size(), "the deadlock callback");
          assertEquals(want, deadlocks);
        }
        if (cb.has("hazard")) {
          List<String> want = new ArrayList<>();
          cb.get("hazard").forEach(x -> want.add(x.asText()));
          DaemonProcess.until(() -> hazards.size() >= want.size(), "the hazard callback");
          assertEquals(want, hazards);
        }
      }
      assertEquals(1, fake.frames.stream().filter(f -> f.path("type").asText().equals("hello")).count(), "one connection: nothing made the SDK reconnect");
    } finally {
      releaseHolder.countDown();
      if (dd[0] != null) dd[0].close();
      fake.close();
    }
  }
}
