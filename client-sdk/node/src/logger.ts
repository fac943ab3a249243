// The logger the SDK writes its few messages to (warnings by default go to console.warn).
export interface Logger {
  warn(msg: string, ...args: unknown[]): void;
  info?(msg: string, ...args: unknown[]): void;
  debug?(msg: string, ...args: unknown[]): void;
}

export const consoleLogger: Logger = {
  warn: (msg, ...args) => console.warn(`[deadlockd] ${msg}`, ...args),
};
