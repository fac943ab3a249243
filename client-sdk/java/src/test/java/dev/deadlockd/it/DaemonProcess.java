package dev.deadlockd.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A real daemon process, started from the built server (server/dist/src/cli.js) with --port 0. */
final class DaemonProcess implements AutoCloseable {
  static final Path REPO = findRepo();
  /** generous: the machine may be 10x slower than a laptop */
  static final long STEP_MS = 30_000;
  static final ObjectMapper JSON = new ObjectMapper();

  final Process proc;
  final String httpUrl;
  final String url;
  final int port;
  private final List<String> lines = new ArrayList<>();

  DaemonProcess(String... args) throws Exception {
    this(0, args);
  }

  DaemonProcess(int port, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("node", "--enable-source-maps", REPO.resolve("server/dist/src/cli.js").toString(),
        "--port", String.valueOf(port), "--log-level", "warn"));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(REPO.toFile()).redirectErrorStream(true);
    // history in memory unless a test names a file: a shared ./data/history.sqlite would carry one test's
    // deadlocks into the next (and a second daemon on it exits: the file is locked)
    pb.environment().putIfAbsent("DEADLOCKD_HISTORY_FILE", ":memory:");
    proc = pb.start();
    Thread drain = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
        for (String l; (l = r.readLine()) != null; ) {
          synchronized (lines) {
            lines.add(l);
            lines.notifyAll();
          }
        }
      } catch (Exception e) {
        // process gone
      }
    }, "daemon-output");
    drain.setDaemon(true);
    drain.start();
    Matcher m = waitForLine(Pattern.compile("deadlockd listening on (http://[^\\s]+):(\\d+)"), 60_000);
    this.port = Integer.parseInt(m.group(2));
    this.httpUrl = m.group(1) + ":" + m.group(2);
    this.url = httpUrl.replaceFirst("^http", "ws") + "/v1/stream";
  }

  Matcher waitForLine(Pattern p, long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    int seen = 0;
    synchronized (lines) {
      for (;;) {
        for (; seen < lines.size(); seen++) {
          Matcher m = p.matcher(lines.get(seen));
          if (m.find()) return m;
        }
        long left = deadline - System.currentTimeMillis();
        if (left <= 0 || !proc.isAlive()) throw new AssertionError("no daemon line matching " + p + "; output:\n" + String.join("\n", lines));
        lines.wait(Math.min(left, 200));
      }
    }
  }

  JsonNode get(String path) throws Exception {
    HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofMillis(STEP_MS)).build();
    HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(httpUrl + path)).timeout(Duration.ofMillis(STEP_MS)).build(),
        HttpResponse.BodyHandlers.ofString());
    return JSON.readTree(r.body());
  }

  List<JsonNode> deadlocks() throws Exception {
    JsonNode b = get("/v1/deadlocks?limit=1000");
    JsonNode items = b.has("deadlocks") ? b.get("deadlocks") : b;
    List<JsonNode> out = new ArrayList<>();
    items.forEach(out::add);
    return out;
  }

  @Override
  public void close() {
    proc.destroy();
    try {
      if (!proc.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) proc.destroyForcibly().waitFor();
    } catch (InterruptedException e) {
      proc.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  void kill9() throws InterruptedException {
    proc.destroyForcibly().waitFor();
  }

  /** wait for a condition (never a fixed sleep as synchronisation) */
  static void until(BooleanSupplier cond, String what) throws InterruptedException {
    until(cond, what, STEP_MS);
  }

  static void until(BooleanSupplier cond, String what, long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (!cond.getAsBoolean()) {
      if (System.currentTimeMillis() > deadline) throw new AssertionError("timed out after " + timeoutMs + " ms waiting for " + what);
      Thread.sleep(10);
    }
  }

  private static Path findRepo() {
    Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
    for (Path q = p; q != null; q = q.getParent()) {
      if (Files.exists(q.resolve("server/dist/src/cli.js")) || Files.exists(q.resolve("server/package.json"))) return q;
    }
    throw new IllegalStateException("repository root not found from " + p);
  }
}
