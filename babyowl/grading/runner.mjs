// One grading run, inside the sandbox (bubblewrap): read a job (JSON) on stdin,
// run the student's program once per test case in Pyodide, print one JSON line
// per event on stdout. The Python side enforces time, memory and output limits
// by watching this process and killing it; nothing here is trusted for that.
import { createRequire, syncBuiltinESMExports } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);

// Defence in depth, once Pyodide is loaded: the sandbox has no shell and no
// network, but a program should not even get to try.
function refuseProcessesAndNetwork() {
  for (const name of ["child_process", "cluster", "net", "http", "https", "http2", "dgram", "dns", "tls",
                      "inspector"]) {
    const mod = require(name);
    for (const key of Object.keys(mod)) {
      // Classes (net.Server, ...) stay: other built-ins derive from them.
      if (typeof mod[key] !== "function" || /^[A-Z]/.test(key)) continue;
      const refuse = () => { throw new Error(`${name}.${key} is not allowed while grading`); };
      try { mod[key] = refuse; } catch { /* a getter-only export: leave it */ }
    }
  }
  syncBuiltinESMExports();
  for (const key of ["binding", "_linkedBinding", "dlopen"]) {
    process[key] = () => { throw new Error(`process.${key} is not allowed while grading`); };
  }
  globalThis.fetch = () => Promise.reject(new Error("network access is not allowed while grading"));
  globalThis.WebSocket = undefined;
}

const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const pyodideDir = process.argv[2];
const job = JSON.parse(readFileSync(0, "utf8"));
const limit = job.outputLimit || 65536;

const codingDir = process.argv[3];   // static/coding: the prelude and turtle the browser gets too
const packagesDir = process.argv[4];  // a full Pyodide release, when the school installed one
const { loadPyodide } = await import(`${pyodideDir}/pyodide.mjs`);
const options = { indexURL: `${pyodideDir}/`, stdout: () => {}, stderr: () => {} };
if (packagesDir) Object.assign(options, { lockFileURL: `${packagesDir}/pyodide-lock.json`, packageCacheDir: `${packagesDir}/` });
const pyodide = await loadPyodide(options);
// The same turtle as in the browser: a turtle program runs (and can be checked) here too.
pyodide.FS.mkdirTree("/home/pyodide");
pyodide.FS.writeFile("/home/pyodide/turtle.py", readFileSync(`${codingDir}/turtle.py`, "utf8"));
for (const name of job.packages || []) {
  try {
    // A package that cannot be fetched fails quietly: check it was loaded, and fail loudly.
    await pyodide.loadPackage(name, { messageCallback: () => {}, errorCallback: () => {} });
    if (!(name.toLowerCase() in pyodide.loadedPackages)) throw new Error(`${name} was not loaded`);
  } catch (error) {
    emit({ event: "fatal", reason: "package", package: name });
    process.exit(0);
  }
}
// The prelude shared with the browser: input() and test-code conventions.
pyodide.runPython(readFileSync(`${codingDir}/prelude.py`, "utf8"));
const check = pyodide.globals.get("_babyowl_check");
refuseProcessesAndNetwork();
emit({ event: "ready" });

const decoder = new TextDecoder();
for (const [index, test] of job.tests.entries()) {
  emit({ event: "start", index });
  let stdout = "", stderr = "", truncated = false;
  const writer = (kind) => ({
    write: (bytes) => {
      const text = decoder.decode(bytes);
      if (kind === "out") {
        if (stdout.length + text.length > limit) { truncated = true; stdout += text.slice(0, limit - stdout.length); }
        else stdout += text;
      } else if (stderr.length < limit) {
        stderr += text.slice(0, limit - stderr.length);
      }
      return bytes.length;
    },
  });
  pyodide.setStdout(writer("out"));
  pyodide.setStderr(writer("err"));
  const lines = (test.input || "").split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  let next = 0;
  pyodide.setStdin({ stdin: () => (next < lines.length ? lines[next++] + "\n" : undefined), autoEOF: true });
  const globals = pyodide.globals.get("dict")();
  globals.set("__name__", "__main__");
  let error = null;
  try {
    await pyodide.runPythonAsync(job.code, { globals, filename: "main.py" });
    if (test.code) check(test.code, globals);
  } catch (caught) {
    error = String(caught.message || caught);
  }
  pyodide.runPython("import sys; sys.stdout.flush(); sys.stderr.flush()");
  globals.destroy();
  emit({ event: "result", index, stdout, stderr: error ? stderr + error : stderr, error: error !== null, truncated });
}
emit({ event: "done" });
