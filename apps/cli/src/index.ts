export { buildProgram, main, VERSION } from './main.js';
export { parseDuration } from './output.js';
