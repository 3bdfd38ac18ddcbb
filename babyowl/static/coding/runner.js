// The runner frame: it lives in <iframe sandbox="allow-scripts"> (an opaque
// origin: no cookies, no storage, the app's responses unreadable), runs student
// code in Pyodide inside a Web Worker, and talks to the coding page only by
// postMessage. A run past its time limit ends with worker.terminate() and a
// fresh worker: the page stays usable whatever the program does.
(function () {
  "use strict";
  const config = document.currentScript.dataset;
  const BASE = config.pyodide;        // absolute URL of static/vendor/pyodide/
  const TURTLE = config.turtle;       // absolute URL of static/coding/turtle.py
  const PRELUDE = config.prelude;     // absolute URL of static/coding/prelude.py
  const LOCK = config.lock;           // the school's full Pyodide release (PYODIDE_PACKAGES_DIR), if any
  let worker = null;
  let ready = null;                   // resolves when the worker has loaded Pyodide
  let current = null;                 // { id, timer }

  // Runs inside the worker (its source is this function's text).
  function workerMain() {
    let pyodide = null;
    const send = (message) => self.postMessage(message);
    self.onmessage = async (event) => {
      const job = event.data;
      if (job.type === "load") {
        try {
          const { loadPyodide } = await import(job.base + "pyodide.mjs");
          pyodide = await loadPyodide(job.lock ? { indexURL: job.base, lockFileURL: job.lock } : { indexURL: job.base });
          const turtle = await (await fetch(job.turtle)).text();
          pyodide.FS.mkdirTree("/home/pyodide");
          pyodide.FS.writeFile("/home/pyodide/turtle.py", turtle);
          // The prelude the grader runs too: input() and test-code conventions.
          pyodide.runPython(await (await fetch(job.prelude)).text());
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
def _babyowl_drawing():
    import json
    module = sys.modules.get("turtle")
    drawing = module._drawing() if module is not None and hasattr(module, "_drawing") else None
    return json.dumps(drawing) if drawing else None
`);
          send({ type: "ready" });
        } catch (error) {
          send({ type: "load-failed", message: String(error && error.message || error) });
        }
        return;
      }
      if (job.type !== "run") return;
      for (const name of job.packages || []) {
        try {
          await pyodide.loadPackage(name, { errorCallback: () => {}, messageCallback: () => {} });
          if (!(name.toLowerCase() in pyodide.loadedPackages)) throw new Error(name + " was not loaded");
        } catch (error) {
          send({ type: "package-missing", id: job.id, package: name });
          return;
        }
      }
      const runs = job.tests && job.tests.length ? job.tests : [{ stdin: job.stdin || "", code: "" }];
      const check = pyodide.globals.get("_babyowl_check");
      const results = [];
      for (const [index, test] of runs.entries()) {
        let stdout = "";
        let stderr = "";
        const shown = !job.tests || !job.tests.length;  // a plain run streams its output to the page
        pyodide.setStdout({ batched: (text) => { stdout += text + "\n"; if (shown) send({ type: "out", id: job.id, text: text + "\n" }); } });
        pyodide.setStderr({ batched: (text) => { stderr += text + "\n"; if (shown) send({ type: "err", id: job.id, text: text + "\n" }); } });
        const lines = (test.stdin || "").split("\n");
        if (lines.length && lines[lines.length - 1] === "") lines.pop();
        let next = 0;
        pyodide.setStdin({ stdin: () => (next < lines.length ? lines[next++] + "\n" : undefined), autoEOF: true });
        // The prelude's input() echoes the prompt and the line read through this hook, in a plain run.
        pyodide.pyimport("sys").__babyowl_echo__ = (text) => { if (shown) send({ type: "echo", id: job.id, text: text + "\n" }); };
        const globals = pyodide.globals.get("dict")();
        globals.set("__name__", "__main__");
        let error = null;
        try {
          await pyodide.runPythonAsync(job.code, { globals, filename: "main.py" });
          if (test.code) check(test.code, globals);
        } catch (caught) {
          error = String(caught && caught.message || caught);
        }
        globals.destroy();
        results.push({ index, stdout, stderr, error });
      }
      let drawing = null;
      let figures = null;
      try { drawing = pyodide.globals.get("_babyowl_drawing")(); } catch (ignored) { drawing = null; }
      try { figures = pyodide.globals.get("_babyowl_figures")(); } catch (ignored) { figures = null; }
      try { pyodide.runPython("import sys; sys.modules.pop('turtle', None)"); } catch (ignored) { /* next run starts clean */ }
      send({ type: "done", id: job.id, results, drawing, figures });
    };
  }

  function startWorker() {
    const source = "(" + workerMain.toString() + ")()";
    worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
    ready = new Promise((resolve) => {
      worker.onmessage = (event) => {
        const message = event.data;
        if (message.type === "ready" || message.type === "load-failed") {
          resolve(message.type === "ready");
          parent.postMessage({ type: message.type, message: message.message }, "*");
          worker.onmessage = relay;
        }
      };
    });
    worker.postMessage({ type: "load", base: BASE, turtle: TURTLE, prelude: PRELUDE, lock: LOCK });
  }

  function relay(event) {
    const message = event.data;
    if (current && message.id === current.id && (message.type === "done" || message.type === "package-missing")) {
      clearTimeout(current.timer);
      current = null;
    }
    parent.postMessage(message, "*");
  }

  window.addEventListener("message", async (event) => {
    if (event.source !== parent) return;   // only the coding page drives this frame
    const job = event.data;
    if (!job || job.type !== "run") return;
    const loaded = await ready;
    if (!loaded) return;
    current = {
      id: job.id,
      timer: setTimeout(() => {
        // The hard stop: C-level loops and `except BaseException` ignore a soft interrupt.
        worker.terminate();
        current = null;
        parent.postMessage({ type: "timeout", id: job.id }, "*");
        startWorker();
      }, job.timeLimit * 1000),
    };
    worker.postMessage(job);
  });

  startWorker();
})();
