package dev.deadlockd;

/** Call sites: Java stack traces trimmed to application frames (the SDK's own and the JDK's lock frames cut). */
final class Sites {
  private static final int MAX_FRAMES = 24;
  private static final int MAX_CHARS = 8192;

  private Sites() {}

  static StackTraceElement[] capture() {
    return new Throwable().getStackTrace();
  }

  /** the SDK's own classes (dev.deadlockd and dev.deadlockd.hikari; not applications or tests below them) */
  static boolean internal(String cls) {
    if (!cls.startsWith("dev.deadlockd.")) return false;
    String rest = cls.substring("dev.deadlockd.".length());
    if (rest.startsWith("hikari.")) rest = rest.substring("hikari.".length());
    return rest.indexOf('.') < 0 && !rest.endsWith("Test") && !rest.contains("Test$");
  }

  static String format(StackTraceElement[] site) {
    if (site == null) return null;
    StringBuilder b = new StringBuilder();
    int n = 0;
    int i = 0;
    while (i < site.length && (internal(site[i].getClassName()) || site[i].getClassName().startsWith("java.lang.reflect.")
        || site[i].getClassName().startsWith("jdk.proxy"))) i++;
    for (; i < site.length && n < MAX_FRAMES; i++, n++) {
      if (b.length() > 0) b.append('\n');
      b.append("at ").append(site[i]);
    }
    String s = b.toString();
    if (s.isEmpty()) return null;
    return s.length() > MAX_CHARS ? s.substring(0, MAX_CHARS) : s;
  }

  /** the first application frame, for one-line warnings */
  static String first(StackTraceElement[] site) {
    String s = format(site);
    if (s == null) return "";
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
