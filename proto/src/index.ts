export * from './frames.js';
export * from './errors.js';
export { wireJsonSchema } from './json-schema.js';
