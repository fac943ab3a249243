export { Engine } from './engine.js';
export * from './types.js';
export { renderReportText } from './report.js';
export * from './export.js';
export { LockOrder, renderHazardText, DEFAULT_LOCK_ORDER_LIMITS } from './hazards.js';
