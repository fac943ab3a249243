export { Engine } from './engine.js';
export * from './types.js';
export { renderReportText } from './report.js';
export * from './export.js';
