#!/bin/sh
':' //; exec node --max-semi-space-size=4 "$0" "$@"
// This file is a shell script and an ES module at once. Run as a command (`lansync`, or
// bin/lansync.js itself), sh runs the line above: it replaces itself with node running this same
// file (same process) with V8's young generation capped at 4 MiB per semi-space; node then reads
// that line as a string and a comment. Run as `node bin/lansync.js`, only node reads it, and the
// young generation keeps V8's default cap of 16 MiB per semi-space.
//
// Why the cap: V8 grows the young generation to its cap within seconds of a busy agent's start,
// and never gives it back. At 16 MiB a semi-space that was 32 MiB of resident memory, a fifth of
// the agent's; at 4 MiB the peak RSS of an agent holding 100,000 files fell from 156–162 to
// 134–138 MiB, at about the same scan and sync speed (`npm run bench`; a 1 MiB cap cost about 20%
// of the speed). V8 sets this size when the process starts, so it is a flag of the node command:
// it cannot be set from inside (src/heap.ts sets what can be).
//
// Thin launcher: runs the compiled CLI (built by `npm run build`, which `npm ci` runs via `prepare`).
import { main } from '../dist/cli/main.js'
main(process.argv.slice(2))
