// JSON Schema of every frame, for SDKs in other languages. Generated in
// `input` mode so that it is no stricter than the daemon (defaulted fields
// stay optional).
import { z } from 'zod';
import { ClientFrame, ServerFrame, PROTOCOL_VERSION } from './frames.js';

export function wireJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: `deadlockd wire protocol v${PROTOCOL_VERSION}`,
    protocolVersion: PROTOCOL_VERSION,
    clientFrame: z.toJSONSchema(ClientFrame, { io: 'input' }),
    serverFrame: z.toJSONSchema(ServerFrame, { io: 'input' }),
  };
}
