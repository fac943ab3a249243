export {
  connect,
  Client,
  DEFAULT_FLUSH_INTERVAL_MS,
  DEFAULT_REPORT_AFTER_MS,
  type ClientStats,
  type ConnectOptions,
  type ClientEvents,
} from './client.js';
export { DeadlockError, AcquireTimeoutError, type SdkErrorCode } from './errors.js';
export type { Held } from './held.js';
export type { Logger } from './logger.js';
export type { TaskOptions } from './owners.js';
export { TaskHandle } from './task-handle.js';
export type { WaitOptions } from './waiter.js';
export { Mutex } from './primitives/mutex.js';
export type { LockOptions } from './client.js';
export { Semaphore, type SemaphoreAcquireOptions } from './primitives/semaphore.js';
export { RWLock } from './primitives/rwlock.js';
export { SharedResource, type ResourceAcquireOptions, type ResourceHeld, type SharedResourceOptions } from './resource.js';
export { ExternalPool, type PoolOptions } from './pool.js';
export { ExternalResource, ExternalWait, ExternalHeld } from './external.js';
export { retryOnDeadlock, isDeadlockError, type RetryOptions } from './retry.js';
export type { DeadlockReport, Hazard } from '@deadlockd/proto';
