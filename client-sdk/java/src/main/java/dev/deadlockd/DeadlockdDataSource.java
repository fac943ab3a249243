package dev.deadlockd;

import com.zaxxer.hikari.HikariDataSource;
import java.io.PrintWriter;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A {@link DataSource} decorator for a {@link HikariDataSource}: each {@code getConnection()} first takes a unit of
 * the SDK semaphore {@code pool:<poolName>} of {@code maximumPoolSize} units, so waiting for a connection is a wait the
 * daemon sees and can abort. A thread that holds a connection and asks for another (the nested checkout HikariCP
 * declined to detect) is a hazard from the first time, with both call sites; N threads doing it on a pool of N end
 * with one {@link DeadlockException} instead of N {@code SQLTransientConnectionException}s 30 s later. The
 * connection's {@code close()} gives the unit back.
 */
public final class DeadlockdDataSource implements DataSource {
  private final Deadlockd dd;
  private final HikariDataSource pool;
  private final DSemaphore units;

  private DeadlockdDataSource(Deadlockd dd, HikariDataSource pool) {
    this.dd = dd;
    this.pool = pool;
    String name = "pool:" + (pool.getPoolName() == null ? "hikari" : pool.getPoolName());
    this.units = dd.semaphoreWithSites(name, pool.getMaximumPoolSize(), "hikari pool " + name.substring("pool:".length()));
  }

  /** wrap {@code pool} (configure it first: its maximumPoolSize is the number of units) */
  public static DeadlockdDataSource wrap(Deadlockd dd, HikariDataSource pool) {
    return new DeadlockdDataSource(dd, pool);
  }

  /** the wrapped pool */
  public HikariDataSource pool() {
    return pool;
  }

  @Override
  public Connection getConnection() throws SQLException {
    return checkout(null, null);
  }

  @Override
  public Connection getConnection(String user, String password) throws SQLException {
    return checkout(user, password);
  }

  private Connection checkout(String user, String password) throws SQLException {
    try {
      units.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SQLException("interrupted while waiting for a connection of " + units.id, e);
    }
    Owner owner = dd.owner();
    Connection real;
    try {
      real = user == null ? pool.getConnection() : pool.getConnection(user, password);
    } catch (SQLException | RuntimeException e) {
      units.releaseFor(owner, 1);
      throw e;
    }
    AtomicBoolean closed = new AtomicBoolean();
    InvocationHandler h = (proxy, m, args) -> handle(real, owner, closed, proxy, m, args);
    return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class}, h);
  }

  private Object handle(Connection real, Owner owner, AtomicBoolean closed, Object proxy, Method m, Object[] args) throws Throwable {
    switch (m.getName()) {
      case "close":
        if (closed.compareAndSet(false, true)) {
          try {
            real.close();
          } finally {
            units.releaseFor(owner, 1);
          }
        }
        return null;
      case "isClosed":
        return closed.get() || real.isClosed();
      case "equals":
        return proxy == args[0];
      case "hashCode":
        return System.identityHashCode(proxy);
      case "toString":
        return "DeadlockdConnection[" + real + "]";
      default:
        try {
          return m.invoke(real, args);
        } catch (InvocationTargetException e) {
          throw e.getCause();
        }
    }
  }

  @Override
  public PrintWriter getLogWriter() throws SQLException {
    return pool.getLogWriter();
  }

  @Override
  public void setLogWriter(PrintWriter out) throws SQLException {
    pool.setLogWriter(out);
  }

  @Override
  public void setLoginTimeout(int seconds) throws SQLException {
    pool.setLoginTimeout(seconds);
  }

  @Override
  public int getLoginTimeout() throws SQLException {
    return pool.getLoginTimeout();
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    return pool.getParentLogger();
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    if (iface.isInstance(this)) return iface.cast(this);
    return pool.unwrap(iface);
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) throws SQLException {
    return iface.isInstance(this) || pool.isWrapperFor(iface);
  }
}
