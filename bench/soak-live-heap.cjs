// Preloaded into each process of `npm run soak:processes` when SOAK_LIVE_HEAP=1 (with --expose-gc): every
// SOAK_LIVE_HEAP_SECONDS it runs a full GC and appends what is still alive — the JS heap, external memory and array
// buffers, and the process's RSS right after — as one JSON line to SOAK_LIVE_HEAP_FILE. Without a forced GC an idle
// process's heap fills with promoted garbage until V8's next major GC (which may be hours away): only what survives
// a full GC tells whether anything accumulates.
"use strict";
const { appendFileSync } = require("node:fs");

const file = process.env.SOAK_LIVE_HEAP_FILE;
const everyMs = Number(process.env.SOAK_LIVE_HEAP_SECONDS || 30) * 1000;
if (file && typeof globalThis.gc === "function") {
  const mb = (n) => +(n / 1048576).toFixed(3);
  setInterval(() => {
    globalThis.gc();
    const m = process.memoryUsage();
    const line = { t: Date.now(), heapUsedMB: mb(m.heapUsed), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers), rssMB: mb(m.rss) };
    appendFileSync(file, JSON.stringify(line) + "\n");
  }, everyMs).unref();
}
