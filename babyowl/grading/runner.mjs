// One test of one submission, inside a single-use bubblewrap sandbox.
//
// Load Pyodide (from the setup's memory snapshot when there is one), say
// "ready" on the event channel, then read the job (JSON on stdin), run the
// program once with the test's input and code, write one "result" and exit.
// One process per test: no test can see or change another's interpreter, and a
// program that got hold of the event channel could only speak for its own test.
//
// The event channel is a pipe on its own file descriptor (argv), never stdout;
// every event after the job was read carries the job's nonce, which exists only
// in this module's scope. Python sees none of Node: `js` is a small object of
// our own (jsglobals), `pyodide_js` is taken away, and the process runs with
// --disallow-code-generation-from-strings, so a JS function's constructor
// cannot evaluate `process` or `import()`. Time, memory and output limits are
// enforced from outside (sandbox.py); nothing here is trusted for them.
import { createRequire, syncBuiltinESMExports } from "node:module";
import { existsSync, readFileSync, writeFileSync, writeSync } from "node:fs";

const require = createRequire(import.meta.url);
// `--make-snapshot PYODIDE CODING OUT` (the setup, trusted code only) writes the memory snapshot instead.
const making = process.argv[2] === "--make-snapshot";
const [pyodideDir, codingDir, eventFd, snapshotPath, packagesDir] = process.argv.slice(making ? 3 : 2);
const channel = Number(eventFd);
let nonce = null;

function emit(event) {
  const line = JSON.stringify(nonce === null ? event : { ...event, nonce }) + "\n";
  writeSync(channel, line);
}

// Defence in depth, once Pyodide and the packages are loaded: Python cannot
// reach Node, and if it ever did, it would still find no process or network.
const REFUSED = ["child_process", "cluster", "net", "http", "https", "http2", "dgram", "dns", "tls", "inspector",
                 "worker_threads", "vm", "wasi"];
// Nothing else derives from these classes: refuse them whole (a Worker gets fresh modules).
const REFUSED_WHOLE = new Set(["child_process", "worker_threads", "vm", "wasi", "cluster", "inspector"]);
function refuseProcessesAndNetwork() {
  for (const name of REFUSED) {
    const mod = require(name);
    for (const key of Object.keys(mod)) {
      // Classes (net.Server, ...) stay: other built-ins derive from them.
      if (typeof mod[key] !== "function" || (/^[A-Z]/.test(key) && !REFUSED_WHOLE.has(name))) continue;
      // A plain function refuses `new` as well as a call.
      const refuse = function () { throw new Error(`${name}.${key} is not allowed while grading`); };
      try { mod[key] = refuse; } catch { /* a getter-only export: leave it */ }
    }
  }
  syncBuiltinESMExports();
  for (const key of ["binding", "_linkedBinding", "dlopen", "getBuiltinModule"]) {
    process[key] = () => { throw new Error(`process.${key} is not allowed while grading`); };
  }
  globalThis.fetch = () => Promise.reject(new Error("network access is not allowed while grading"));
  globalThis.WebSocket = undefined;
}

// What `import js` shows a program: timers (asyncio needs them), nothing of Node.
const jsglobals = Object.freeze(Object.assign(Object.create(null), {
  setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id),
}));

const { loadPyodide } = await import(`${pyodideDir}/pyodide.mjs`);
const options = { indexURL: `${pyodideDir}/`, jsglobals, stdout: () => {}, stderr: () => {} };
if (packagesDir) Object.assign(options, { lockFileURL: `${packagesDir}/pyodide-lock.json`, packageCacheDir: `${packagesDir}/` });

// Imported before the snapshot is taken, so a restored process has them ready.
const WARM_MODULES = "import ast, io, json, linecache, math, random, re, string, traceback, collections, itertools, " +
                     "functools, datetime, decimal, fractions, statistics";

function writeTurtle(pyodide) {
  // The same turtle as in the browser: a turtle program runs (and can be checked) here too. Files live
  // outside the WebAssembly memory, so a restored snapshot needs it written again.
  pyodide.FS.mkdirTree("/home/pyodide");
  pyodide.FS.writeFile("/home/pyodide/turtle.py", readFileSync(`${codingDir}/turtle.py`, "utf8"));
}

async function coldStart(extra = {}) {
  const pyodide = await loadPyodide({ ...options, ...extra });
  writeTurtle(pyodide);
  // The core shared with the browser: input(), running a program and a test, comparing.
  pyodide.runPython(readFileSync(`${codingDir}/prelude.py`, "utf8"));
  return pyodide;
}

if (making) {
  const pyodide = await coldStart({ _makeSnapshot: true });
  pyodide.runPython(WARM_MODULES);
  writeFileSync(eventFd, pyodide.makeMemorySnapshot());
  process.exit(0);
}

let pyodide = null;
let restored = false;
if (snapshotPath && existsSync(snapshotPath)) {
  try {
    pyodide = await loadPyodide({ ...options, _loadSnapshot: readFileSync(snapshotPath) });
    writeTurtle(pyodide);
    // Every restored process starts with the same random state: reseed from the OS.
    pyodide.runPython("import os, random; random.seed(os.urandom(32))");
    restored = true;
  } catch {
    pyodide = null;  // a snapshot of another build: the cold start below is always correct
  }
}
if (pyodide === null) pyodide = await coldStart();
emit({ event: "ready", snapshot: restored });

// stdin is non-blocking once Pyodide has looked at it: read it as a stream.
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));
nonce = String(job.nonce);
const limit = job.outputLimit || 65536;

for (const name of job.packages || []) {
  try {
    // A package that cannot be fetched fails quietly: check it was loaded, and fail loudly.
    await pyodide.loadPackage(name, { messageCallback: () => {}, errorCallback: () => {} });
    if (!(name.toLowerCase() in pyodide.loadedPackages)) throw new Error(`${name} was not loaded`);
  } catch {
    emit({ event: "result", status: "package_missing", package: name });
    process.exit(0);
  }
}

let stdout = "", stderr = "", truncated = false;
const decoder = new TextDecoder();
const writer = (kind) => ({
  write: (bytes) => {
    const text = decoder.decode(bytes);
    if (kind === "out") {
      if (stdout.length + text.length > limit) { truncated = true; stdout += text.slice(0, Math.max(0, limit - stdout.length)); }
      else stdout += text;
    } else if (stderr.length < limit) {
      stderr += text.slice(0, limit - stderr.length);
    }
    return bytes.length;
  },
});
pyodide.setStdout(writer("out"));
pyodide.setStderr(writer("err"));
pyodide.setStdin({ stdin: () => undefined, autoEOF: true });
const run = pyodide.globals.get("_babyowl_run");
pyodide.runPython("import sys; sys.modules.pop('pyodide_js', None)");
pyodide.unregisterJsModule("pyodide_js");
refuseProcessesAndNetwork();
emit({ event: "started" });

let reported = false;
function report(status, extra = {}) {
  if (reported) return;
  reported = true;
  // The process's own CPU time, start-up included: for the benchmark only, never for a verdict.
  const cpu = process.cpuUsage();
  emit({ event: "result", status, stdout, stderr, truncated, cpuSeconds: (cpu.user + cpu.system) / 1e6, ...extra });
}
// os._exit() or an Emscripten abort ends the process: what was printed so far still counts.
process.on("exit", (code) => report("error", { exitCode: code, error: `the program ended Python (exit code ${code})` }));

let outcome;
try {
  outcome = run(job.code, job.stdin || "", job.testCode || "").toJs({ dict_converter: Object.fromEntries });
} catch (caught) {
  outcome = { exit_code: 1, error: String((caught && caught.message) || caught) };
}
report(outcome.error !== null && outcome.error !== undefined ? "error" : "ok",
       { exitCode: outcome.exit_code, error: outcome.error ?? null });
process.exit(0);
