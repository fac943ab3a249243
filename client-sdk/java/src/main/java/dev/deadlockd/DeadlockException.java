package dev.deadlockd;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Thrown in the one thread whose pending acquire the daemon chose as a deadlock's victim. Unchecked, so
 * {@code lock()} keeps the {@link java.util.concurrent.locks.Lock} signature; the thread holds nothing
 * it did not hold before the acquire, so releasing what it holds (try/finally) and retrying resolves it.
 */
public class DeadlockException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String deadlockId;
  private final transient JsonNode report;

  public DeadlockException(String deadlockId, JsonNode report) {
    super("deadlock " + deadlockId + " (this acquire was chosen as the victim)\n" + textOf(report));
    this.deadlockId = deadlockId;
    this.report = report;
  }

  /** the daemon's id of the deadlock, e.g. {@code DL-3} */
  public String deadlockId() {
    return deadlockId;
  }

  /** the daemon's report (members, edges, victim, text), as JSON */
  public JsonNode report() {
    return report;
  }

  /** the report's readable rendering */
  public String reportText() {
    return textOf(report);
  }

  private static String textOf(JsonNode report) {
    return report != null && report.hasNonNull("text") ? report.get("text").asText() : "";
  }
}
