// The shapes of proto/conformance/*.json, for runners (import '@deadlockd/proto/conformance').
export type { DaemonSuite, DaemonVector, Expected, SdkSuite, SdkVector, Sent } from './conformance.js';
