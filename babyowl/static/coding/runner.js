// The runner frame: it lives in <iframe sandbox="allow-scripts"> (an opaque
// origin: no cookies, no storage, the app's responses unreadable), runs student
// code in Pyodide inside a Web Worker, and talks to the coding page only by
// postMessage.
//
// Loading: requests made from an opaque origin skip the HTTP cache, so the
// coding page fetches the Pyodide files (cached by the browser) and transfers
// the bytes here after our "hello". The frame keeps them: a worker restarted
// after a time limit gets a copy and needs no network.
//
// Limits: every test gets its own time limit, as on the server. A run past it
// ends with worker.terminate() and a fresh worker (C-level loops and
// `except BaseException` ignore a soft interrupt); the tests after it run in
// the fresh worker.
(function () {
  "use strict";
  const config = document.currentScript.dataset;
  const INDEX = config.index;          // absolute, versioned URL of the Pyodide files (Pyodide's indexURL)
  const PACKAGES = config.packages;    // absolute URL the lock file's wheels are fetched from
  let files = null;                    // { name: ArrayBuffer } from the page, kept for restarts
  let useSnapshot = true;              // off once restoring the snapshot failed in this browser
  let worker = null;
  let workerReady = false;
  let job = null;                      // the run in progress: { message, remaining, results, timer, index }

  const tell = (message) => parent.postMessage(message, "*");

  // Runs inside the worker (its source is this function's text).
  function workerMain() {
    const OUTPUT_SHOWN = 64 * 1024;    // what a plain run sends to the page at most
    const OUTPUT_KEPT = 64 * 1024;     // what a test keeps for comparing, as the grader (GRADER_OUTPUT_LIMIT)
    const FLUSH_MS = 50;
    const FLUSH_BYTES = 4096;
    let pyodide = null;
    let sys = null;
    const send = (message) => self.postMessage(message);

    function blobURL(bytes, type) {
      return URL.createObjectURL(new Blob([bytes], { type }));
    }

    async function load(message) {
      const f = message.files;
      // Pyodide fetches the wasm and the standard library from indexURL: answer from the bytes we were given.
      const answers = new Map([
        [message.index + "pyodide.asm.wasm", [f.wasm, "application/wasm"]],
        [message.index + "python_stdlib.zip", [f.stdlib, "application/zip"]],
      ]);
      const networkFetch = self.fetch.bind(self);
      self.fetch = (input, init) => {
        const answer = answers.get(input instanceof Request ? input.url : String(input));  // a string or a URL
        if (answer) return Promise.resolve(new Response(answer[0], { headers: { "Content-Type": answer[1] } }));
        return networkFetch(input, init);
      };
      // Sent gzip-compressed; unpacked here, off the page's main thread, while the scripts load.
      const unpacking = message.snapshot && f.snapshot
        ? new Response(new Blob([f.snapshot]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer()
        : Promise.resolve(null);
      const [{ loadPyodide }, asm] = await Promise.all([
        import(blobURL(f.mjs, "text/javascript")), import(blobURL(f.asmMjs, "text/javascript"))]);
      const options = {
        indexURL: message.index, createPyodideModule: asm.default, packageBaseUrl: message.packages,
        lockFileContents: new TextDecoder().decode(f.lock),
      };
      const snapshot = await unpacking;
      if (snapshot) options._loadSnapshot = new Uint8Array(snapshot);
      pyodide = await loadPyodide(options);
      sys = pyodide.pyimport("sys");
      // After a snapshot every page would start from the same random state.
      pyodide.runPython("import random; random.seed()");
      pyodide.FS.mkdirTree("/home/pyodide");
      pyodide.FS.writeFile("/home/pyodide/turtle.py", new TextDecoder().decode(f.turtle));
      // The prelude the grader runs too: input() and test-code conventions.
      pyodide.runPython(new TextDecoder().decode(f.prelude));
      pyodide.runPython(`
import sys
import os
os.environ.setdefault("MPLBACKEND", "Agg")  # no display in a worker: figures are drawn off screen
def _babyowl_figures():
    # Where matplotlib is available (a school's full Pyodide release): each open figure as a PNG.
    import base64, io, json
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return None
    images = []
    for number in pyplot.get_fignums()[:10]:
        buffer = io.BytesIO()
        pyplot.figure(number).savefig(buffer, format="png", dpi=96, bbox_inches="tight")
        images.append(base64.b64encode(buffer.getvalue()).decode())
    pyplot.close("all")
    return json.dumps(images) if images else None
def _babyowl_fresh_stdin():
    # Each run reads its own lines: exit() closes sys.stdin, and a buffered reader could hold lines
    # of the run before.
    sys.stdin = open(0, "r", encoding="utf-8", closefd=False)
def _babyowl_drawing():
    import json
    module = sys.modules.get("turtle")
    drawing = module._drawing() if module is not None and hasattr(module, "_drawing") else None
    return json.dumps(drawing) if drawing else None
`);
    }

    // Output of a plain run goes to the page in batches (every ~50 ms or 4 KB, one message each):
    // one message per printed line froze the page for over a minute on 200,000 lines.
    function outputStream(id) {
      let chunks = [];
      let size = 0;
      let sent = 0;
      let lastFlush = 0;
      let cut = false;
      let timer = null;
      const flush = () => {
        if (timer) { clearTimeout(timer); timer = null; }
        if (chunks.length) send({ type: "output", id, chunks, cut });
        else if (cut) send({ type: "output", id, chunks: [], cut });
        chunks = [];
        size = 0;
        lastFlush = Date.now();
      };
      const add = (kind, text) => {
        if (cut || !text) return;
        if (sent + text.length > OUTPUT_SHOWN) {
          text = text.slice(0, OUTPUT_SHOWN - sent);
          cut = true;
        }
        sent += text.length;
        const last = chunks[chunks.length - 1];
        if (last && last[0] === kind) last[1] += text; else chunks.push([kind, text]);
        size += text.length;
        // The first output after a quiet spell goes at once: a loop that never prints again would
        // otherwise keep it until the time limit ends the worker.
        if (cut || size >= FLUSH_BYTES || Date.now() - lastFlush >= FLUSH_MS) flush();
        else if (!timer) timer = setTimeout(flush, FLUSH_MS);
      };
      return { add, flush };
    }

    function writer(onText) {
      const decoder = new TextDecoder();
      return (bytes) => { onText(decoder.decode(bytes, { stream: true })); return bytes.length; };
    }

    async function runOne(message, test, index, stream) {
      let stdout = "";
      let stderr = "";
      let truncated = false;
      const keep = (text) => {
        if (stdout.length + text.length > OUTPUT_KEPT) { truncated = true; text = text.slice(0, OUTPUT_KEPT - stdout.length); }
        stdout += text;
      };
      const shown = stream !== null;
      // A plain run is line buffered (a terminal): what a program printed shows before a loop that follows it.
      pyodide.setStdout({ write: writer((text) => { keep(text); if (shown) stream.add("out", text); }), isatty: shown });
      pyodide.setStderr({ write: writer((text) => {
        if (stderr.length < OUTPUT_KEPT) stderr += text;
        if (shown) stream.add("err", text);
      }), isatty: shown });
      const lines = (test.stdin || "").split("\n");
      if (lines.length && lines[lines.length - 1] === "") lines.pop();
      let next = 0;
      pyodide.setStdin({ stdin: () => (next < lines.length ? lines[next++] + "\n" : undefined), autoEOF: true });
      pyodide.globals.get("_babyowl_fresh_stdin")();
      // The prelude's input() echoes the prompt and the line read through this hook, in a plain run;
      // what the program printed before it comes first.
      sys.__babyowl_echo__ = (text) => { if (shown) { sys.stdout.flush(); stream.add("echo", text + "\n"); } };
      const globals = pyodide.globals.get("dict")();
      globals.set("__name__", "__main__");
      let error = null;
      try {
        await pyodide.runPythonAsync(message.code, { globals, filename: "main.py" });
        if (test.code) pyodide.globals.get("_babyowl_check")(test.code, globals);
      } catch (caught) {
        // A program that exits ends the program, as CPython: exit(), sys.exit() and sys.exit(0) are no error.
        const text = String(caught && caught.message || caught);
        const exit = caught && caught.type === "SystemExit" ? /SystemExit(?::\s*(.*))?\s*$/.exec(text) : null;
        if (!exit || !(exit[1] === undefined || exit[1] === "" || exit[1] === "0" || exit[1] === "None")) error = text;
      }
      // The last line printed without a newline counts too (the grader flushes as well).
      try { sys.stdout.flush(); sys.stderr.flush(); } catch (ignored) { /* a program may have closed them */ }
      globals.destroy();
      if (shown) stream.flush();
      // One comparison for browser and grader: the prelude's, when it has one (with the test's mode).
      let same = null;
      const compare = test.expected === undefined ? null : pyodide.globals.get("_babyowl_same_output");
      if (compare) {
        // JS null is not None in Python (pyodide.ffi.jsnull): "no tolerance" goes as undefined.
        const tolerance = test.tolerance === null ? undefined : test.tolerance;
        try { same = Boolean(compare(stdout, test.expected, test.compare || "exact", tolerance)); }
        catch (ignored) { same = null; }
      }
      return { index, stdout, stderr, error, truncated, same };
    }

    self.onmessage = async (event) => {
      const message = event.data;
      if (message.type === "load") {
        try {
          await load(message);
          send({ type: "ready" });
        } catch (error) {
          send({ type: "load-failed", snapshot: !!message.snapshot, message: String(error && error.message || error) });
        }
        return;
      }
      if (message.type !== "run") return;
      for (const name of message.packages || []) {
        try {
          await pyodide.loadPackage(name, { errorCallback: () => {}, messageCallback: () => {} });
          if (!(name.toLowerCase() in pyodide.loadedPackages)) throw new Error(name + " was not loaded");
        } catch (error) {
          send({ type: "package-missing", id: message.id, package: name });
          return;
        }
      }
      const plain = !message.tests.length;
      const runs = plain ? [{ index: 0, stdin: message.stdin || "", code: "" }] : message.tests;
      for (const test of runs) {
        send({ type: "test-start", id: message.id, index: test.index });
        const result = await runOne(message, test, test.index, plain ? outputStream(message.id) : null);
        send({ type: "test-done", id: message.id, result });
      }
      let drawing = null;
      let figures = null;
      try { drawing = pyodide.globals.get("_babyowl_drawing")(); } catch (ignored) { drawing = null; }
      try { figures = pyodide.globals.get("_babyowl_figures")(); } catch (ignored) { figures = null; }
      try { pyodide.runPython("import sys; sys.modules.pop('turtle', None)"); } catch (ignored) { /* next run starts clean */ }
      send({ type: "finished", id: message.id, drawing, figures });
    };
  }

  function startWorker() {
    workerReady = false;
    const source = "(" + workerMain.toString() + ")()";
    worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
    worker.onmessage = fromWorker;
    // A copy (no transfer list): the frame keeps its bytes for the next restart.
    worker.postMessage({ type: "load", files, index: INDEX, packages: PACKAGES, snapshot: useSnapshot });
  }

  function fromWorker(event) {
    const message = event.data;
    if (message.type === "ready") {
      workerReady = true;
      if (job) dispatch(); else tell({ type: "ready" });
      return;
    }
    if (message.type === "load-failed") {
      if (message.snapshot) {  // this browser cannot restore the snapshot: a normal load, once
        useSnapshot = false;
        worker.terminate();
        startWorker();
        return;
      }
      if (job) { clearTimeout(job.timer); job = null; }
      tell({ type: "load-failed", message: message.message });
      return;
    }
    if (!job || message.id !== job.message.id) return;
    if (message.type === "output") { tell(message); return; }
    if (message.type === "test-start") { startClock(message.index); return; }
    if (message.type === "test-done") {
      clearTimeout(job.timer);
      job.results.push(message.result);
      job.remaining = job.remaining.filter((test) => test.index !== message.result.index);
      return;
    }
    if (message.type === "package-missing") { clearTimeout(job.timer); job = null; tell(message); return; }
    if (message.type === "finished") {
      const results = job.results.sort((a, b) => a.index - b.index);
      job = null;
      tell({ type: "done", id: message.id, results, drawing: message.drawing, figures: message.figures });
    }
  }

  function startClock(index) {
    clearTimeout(job.timer);
    job.index = index;
    job.timer = setTimeout(() => {
      // The hard stop: C-level loops and `except BaseException` ignore a soft interrupt.
      worker.terminate();
      const plain = !job.message.tests.length;
      job.results.push({ index, stdout: "", stderr: "", error: null, timeout: true });
      job.remaining = job.remaining.filter((test) => test.index !== index);
      if (plain) {
        const id = job.message.id;
        job = null;
        tell({ type: "timeout", id });
      } else if (!job.remaining.length) {
        const done = { type: "done", id: job.message.id, results: job.results.sort((a, b) => a.index - b.index) };
        job = null;
        tell(done);
      }
      startWorker();  // the tests left, if any, run in the fresh worker
    }, job.message.timeLimit * 1000);
  }

  function dispatch() {
    // The tests not yet run, in a worker that is ready; a plain run has none.
    const message = Object.assign({}, job.message, { tests: job.message.tests.length ? job.remaining : [] });
    worker.postMessage(message);
  }

  window.addEventListener("message", (event) => {
    if (event.source !== parent) return;   // only the coding page drives this frame
    const message = event.data;
    if (!message) return;
    if (message.type === "files" && !files) {
      files = message.files;
      startWorker();
      return;
    }
    if (message.type !== "run" || !files || job) return;
    const tests = (message.tests || []).map((test, index) => ({
      index, stdin: test.stdin || "", code: test.code || "", expected: test.expected, compare: test.compare,
      tolerance: test.tolerance,
    }));
    job = { message: Object.assign({}, message, { tests }), remaining: tests.slice(), results: [], timer: null };
    if (workerReady) dispatch();
  });

  tell({ type: "hello" });
})();
