#!/bin/sh
':' //; MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" exec node --max-semi-space-size=4 "$0" "$@"
// This file is a shell script and an ES module at once. Run as a command (`lansync`, or
// bin/lansync.js itself), sh runs the line above: it replaces itself with node running this same
// file (same process) with V8's young generation capped at 4 MiB per semi-space and glibc's
// malloc limited to 2 arenas (unless the caller set MALLOC_ARENA_MAX); node then reads that line
// as a string and a comment. Run as `node bin/lansync.js`, only node reads it, and neither is set.
//
// Why the cap: V8 grows the young generation to its cap within seconds of a busy agent's start,
// and never gives it back. At 16 MiB a semi-space that was 32 MiB of resident memory, a fifth of
// the agent's; at 4 MiB the peak RSS of an agent holding 100,000 files fell from 156–162 to
// 134–138 MiB, at about the same scan and sync speed (`npm run bench`; a 1 MiB cap cost about 20%
// of the speed). V8 sets this size when the process starts, so it is a flag of the node command:
// it cannot be set from inside (src/heap.ts sets what can be).
//
// Why 2 arenas: glibc gives each thread that allocates its own arena (up to 8 per core), and each
// keeps what was freed in it. An agent moving big files allocates and frees block buffers on the
// main thread, the thread pool and V8's GC threads; with 2 arenas the busiest agent of W2
// (4 × 256 MiB) peaked at 123–129 MiB RSS instead of 132–136, and the sender of W1 (10,000 small
// files) at 102 instead of 110, at the same speed (scratch runs of the bench's two-agent cases,
// alternating). glibc reads the variable when the process starts, so it too is set here.
//
// Thin launcher: runs the compiled CLI (built by `npm run build`, which `npm ci` runs via `prepare`).
import { main } from '../dist/cli/main.js'
main(process.argv.slice(2))
