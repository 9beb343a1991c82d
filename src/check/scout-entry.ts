// The module a check's scout thread starts from when elfdeps runs as tsc's
// output or as the sources (pipeline.ts); the shipped command starts it from
// its own entry, bin.ts.
import { runScoutThread } from './scout-thread.js';

runScoutThread();
