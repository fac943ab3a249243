// Every error the daemon can send in an `error` frame. `fatal` codes are
// protocol violations: the daemon sends the frame and closes that connection
// (WebSocket close code 1008, or 1009 for size). Non-fatal codes reject one
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
  NOT_HELD: { fatal: false, text: 'release of a resource the owner does not hold (in that mode/amount)' },
  UNKNOWN_WAIT: { fatal: false, text: 'grant/cancel names a wait id that is not pending' },
  DUPLICATE_WAIT: { fatal: false, text: 'wait id is already pending for this client' },
  UNKNOWN_RESOURCE: { fatal: false, text: 'resource was not declared with a `resource` event on this connection' },
  UNKNOWN_OWNER: { fatal: false, text: 'task wait names an owner this client never reported' },
  RESOURCE_CONFLICT: { fatal: false, text: 'a shared resource was declared with a different kind by another client' },
  BAD_REQUEST_SIZE: { fatal: false, text: 'units/mode do not fit the resource (units > capacity, mode on a mutex, …)' },
  LIMIT_EXCEEDED: { fatal: false, text: 'a configured graph limit (owners, resources, waits per client) was reached' },
  INTERNAL: { fatal: false, text: 'the daemon failed while handling this event; nothing was applied' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export function isFatal(code: ErrorCode): boolean {
  return ERROR_CODES[code].fatal;
}
