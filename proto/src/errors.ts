// Every error the daemon can send in an `error` frame. `fatal` codes are
// protocol violations: the daemon sends the frame and closes that connection
// (WebSocket close code 1008, 1009 for size, 1007 for bad UTF-8, 1013 for a
// slow consumer or busy snapshot budget). Non-fatal codes reject one
// event of a batch; the rest of the batch and the connection carry on.
export const ERROR_CODES = {
  BAD_JSON: { fatal: true, text: 'frame is not valid JSON' },
  BAD_FRAME: { fatal: true, text: 'frame does not match the protocol schema' },
  UNKNOWN_FRAME_TYPE: { fatal: true, text: 'frame has an unknown `type`' },
  FRAME_TOO_LARGE: { fatal: true, text: 'frame exceeds the configured size limit' },
  HELLO_REQUIRED: { fatal: true, text: 'the first frame must be `hello`' },
  DUPLICATE_HELLO: { fatal: true, text: '`hello` was already received on this connection' },
  PROTOCOL_VERSION: { fatal: true, text: 'protocol version not supported by this daemon' },
  UNAUTHORIZED: { fatal: true, text: 'missing or invalid token' },
  TOO_MANY_EVENTS: { fatal: true, text: 'batch exceeds the configured number of events per frame' },
  SNAPSHOT_TOO_LARGE: { fatal: true, text: "a snapshot's parts together exceed the configured number of events per snapshot" },
  SNAPSHOT_INCOMPLETE: { fatal: true, text: 'an `events` frame arrived before the last part (`more` absent) of a snapshot' },
  SNAPSHOT_TIMEOUT: { fatal: true, text: "a snapshot's last part did not arrive within the configured deadline" },
  SNAPSHOT_BUSY: { fatal: true, text: 'snapshots in flight on all connections together exceed the configured budget; reconnect and send it again later' },
  BAD_UTF8: { fatal: true, text: 'a text frame is not valid UTF-8' },
  HELLO_TIMEOUT: { fatal: true, text: 'no `hello` arrived within the configured time after the connection opened' },
  SLOW_CONSUMER: { fatal: true, text: 'the daemon queued more bytes for this connection than allowed: the client does not read its frames' },
  NOT_HELD: { fatal: false, text: 'release of a resource the owner does not hold (in that mode/amount)' },
  UNKNOWN_WAIT: { fatal: false, text: 'grant/cancel names a wait id that is not pending' },
  DUPLICATE_WAIT: { fatal: false, text: 'wait id is already pending for this client' },
  UNKNOWN_RESOURCE: { fatal: false, text: 'resource (name or handle) was not declared with a `resource` event on this connection' },
  UNKNOWN_OWNER: { fatal: false, text: 'task wait names an owner this client never reported' },
  RESOURCE_CONFLICT: { fatal: false, text: 'a declaration conflicts with an earlier one (another kind, scope or reentrancy; a handle that skips ahead or names another resource)' },
  BAD_REQUEST_SIZE: { fatal: false, text: 'units/mode do not fit the resource (units > capacity, mode on a mutex, a capacity above 2^24, …)' },
  LIMIT_EXCEEDED: { fatal: false, text: 'a configured graph limit (owners, resources, waits, holds per client or per namespace) was reached' },
  INTERNAL: { fatal: false, text: 'the daemon failed while handling this event; nothing was applied' },
  ERRORS_SUPPRESSED: { fatal: false, text: 'more error frames than the configured budget were due; the count of those not sent is in the message' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export function isFatal(code: ErrorCode): boolean {
  return ERROR_CODES[code].fatal;
}

/** The WebSocket close code that follows a fatal error frame of this code. */
export function closeCodeOf(code: ErrorCode): number {
  switch (code) {
    case 'FRAME_TOO_LARGE':
      return 1009; // message too big
    case 'BAD_UTF8':
      return 1007; // invalid frame payload data
    case 'SLOW_CONSUMER':
    case 'SNAPSHOT_BUSY':
      return 1013; // try again later
    default:
      return 1008; // policy violation
  }
}
