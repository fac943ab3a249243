// Writes proto/schema/wire.json (checked in; a test fails when it is stale).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wireJsonSchema } from './json-schema.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema', 'wire.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(wireJsonSchema(), null, 2) + '\n');
console.log(`wrote ${out}`);
