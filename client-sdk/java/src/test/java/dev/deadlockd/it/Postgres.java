package dev.deadlockd.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A real PostgreSQL: the embedded one the Node tests start (scripts/embedded-pg-server.mjs). */
final class Postgres implements AutoCloseable {
  final Process proc;
  final JsonNode config;

  Postgres() throws Exception {
    proc = new ProcessBuilder("node", DaemonProcess.REPO.resolve("scripts/embedded-pg-server.mjs").toString())
        .directory(DaemonProcess.REPO.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8));
    String line = CompletableFuture.supplyAsync(() -> {
      try {
        return r.readLine();
      } catch (Exception e) {
        return null;
      }
    }).get(180, TimeUnit.SECONDS);
    if (line == null) throw new IllegalStateException("embedded PostgreSQL did not start");
    config = DaemonProcess.JSON.readTree(line);
  }

  String jdbcUrl() {
    return "jdbc:postgresql://" + config.get("host").asText() + ":" + config.get("port").asInt() + "/" + config.get("database").asText();
  }

  String user() {
    return config.get("user").asText();
  }

  String password() {
    return config.get("password").asText();
  }

  @Override
  public void close() {
    try {
      proc.getOutputStream().close(); // stdin closed: it stops PostgreSQL and exits
      if (!proc.waitFor(60, TimeUnit.SECONDS)) proc.destroyForcibly();
    } catch (Exception e) {
      proc.destroyForcibly();
    }
  }
}
