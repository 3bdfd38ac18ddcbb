// The coding page: Monaco for editing, a sandboxed runner frame for instant
// feedback, htmx for submitting (the server's grading decides the score).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("coding-data").textContent);
  const text = data.text;
  const textarea = document.getElementById("code");
  const runButton = document.getElementById("run-button");
  const status = document.getElementById("runner-status");
  const output = document.getElementById("output");
  const visual = document.getElementById("visual");
  const testsPanel = document.getElementById("browser-tests");
  const programInput = document.getElementById("program-input");
  let editor = null;
  let frame = null;
  let runnerReady = false;
  let pending = null;      // the run waiting for the runner to load
  let running = null;      // { id, kind }
  let runCount = 0;
  let submittedPlayground = false;
  let lastTestResults = [];  // what the example tests gave here, for browser tests

  const code = () => (editor ? editor.getValue() : textarea.value);
  const setCode = (value) => { if (editor) editor.setValue(value); textarea.value = value; };
  const say = (message) => { status.textContent = message; };

  // ---- Monaco ---------------------------------------------------------------
  window.require.config({ paths: { vs: data.monaco } });
  window.require(["vs/editor/editor.main"], function () {
    const holder = document.getElementById("editor");
    holder.hidden = false;
    textarea.hidden = true;
    editor = window.monaco.editor.create(holder, {
      value: textarea.value, language: "python", automaticLayout: true, minimap: { enabled: false },
      fontSize: 15, scrollBeyondLastLine: false, tabSize: 4, insertSpaces: true,
    });
    editor.onDidChangeModelContent(() => { textarea.value = editor.getValue(); });
  });

  // ---- the runner frame -----------------------------------------------------
  // The page fetches Pyodide's files itself: requests from the sandboxed frame (an
  // opaque origin) skip the HTTP cache, the page's own are cached. The bytes are
  // transferred to the frame once it has said hello.
  let frameHello = false;
  let files = null;         // { name: ArrayBuffer } until handed to the frame
  let fetched = null;       // the downloads, started at once: on a later visit they come from the cache

  function fetchFiles() {
    const names = Object.keys(data.runnerFiles).filter((name) => data.runnerFiles[name]);
    return Promise.all(names.map((name) =>
      fetch(data.runnerFiles[name], { credentials: "omit" }).then((response) => {
        if (!response.ok) throw new Error(response.status + " " + response.url);
        return response.arrayBuffer();
      }))).then((buffers) => Object.fromEntries(names.map((name, i) => [name, buffers[i]])));
  }

  function handOver() {
    if (!frameHello || !files) return;
    const message = { type: "files", files };
    files = null;
    frame.contentWindow.postMessage(message, "*", Object.values(message.files));
  }

  function loadRunner() {
    if (frame) return;  // it loads quietly; a Run pressed meanwhile says "Loading Python…"
    frame = document.createElement("iframe");
    frame.setAttribute("sandbox", "allow-scripts");
    frame.src = data.runner;
    frame.hidden = true;
    frame.title = "runner";
    document.body.appendChild(frame);
    fetched.then((buffers) => { files = buffers; handOver(); })
      .catch((error) => say(text.loadFailed + " " + error.message));
  }

  window.addEventListener("message", (event) => {
    if (!frame || event.source !== frame.contentWindow) return;  // the origin is "null": check the source
    const message = event.data || {};
    if (message.type === "hello") { frameHello = true; handOver(); return; }
    if (message.type === "ready") {
      runnerReady = true;
      if (!running) { runButton.disabled = false; say(text.ready); }
      if (pending) { const job = pending; pending = null; send(job); }
      return;
    }
    if (message.type === "load-failed") { say(text.loadFailed + " " + (message.message || "")); return; }
    if (!running || message.id !== running.id) return;
    if (message.type === "output") showOutput(message.chunks, message.cut);
    else if (message.type === "timeout") finishTimeout();
    else if (message.type === "package-missing") finishPackage(message.package);
    else if (message.type === "done") finish(message);
  });

  function send(job) {
    running = { id: job.id, kind: job.kind, tests: job.exampleTests };
    frame.contentWindow.postMessage(job, "*");
  }

  function start(kind, tests = data.tests) {
    loadRunner();
    const job = {
      type: "run", id: ++runCount, kind, code: code(), stdin: programInput.value,
      packages: data.packages, timeLimit: data.timeLimit,
      tests: kind === "tests" ? tests.map((t) => ({
        stdin: t.stdin, code: t.input, expected: t.expectedOutput, compare: t.compare || "exact",
        tolerance: t.tolerance,
      })) : [],
      exampleTests: tests,
    };
    if (kind === "program") { output.textContent = ""; shownChars = 0; visual.replaceChildren(); clearMarkers(); }
    runButton.disabled = true;
    say(runnerReady ? text.running : text.loading);
    if (runnerReady) send(job); else pending = job;
  }

  // ---- results --------------------------------------------------------------
  // At most 64 KB of output is shown: past that a page slows to a crawl, and nobody reads it.
  const SHOWN_LIMIT = 64 * 1024;
  const CLASSES = { out: "", err: "stderr", echo: "echo" };
  let shownChars = 0;

  function showOutput(chunks, cut) {
    // One message, one fragment, one change of the page.
    const fragment = document.createDocumentFragment();
    for (const [kind, chunk] of chunks) {
      const room = SHOWN_LIMIT - shownChars;
      if (room <= 0) { cut = true; break; }
      const span = document.createElement("span");
      if (CLASSES[kind]) span.className = CLASSES[kind];
      span.textContent = chunk.length > room ? chunk.slice(0, room) : chunk;
      if (chunk.length > room) cut = true;
      shownChars += span.textContent.length;
      fragment.appendChild(span);
    }
    if (cut && !output.querySelector(".cutoff")) {
      const line = document.createElement("span");
      line.className = "cutoff";
      line.textContent = text.outputCut;
      fragment.appendChild(line);
      shownChars = SHOWN_LIMIT;
    }
    output.appendChild(fragment);
  }

  function append(chunk, kind) {
    // The page's own messages start on a line of their own.
    if (output.textContent && !output.textContent.endsWith("\n")) chunk = "\n" + chunk;
    const span = document.createElement("span");
    if (kind) span.className = kind;
    span.textContent = chunk;
    output.appendChild(span);
  }

  function normalise(value) {
    // As the grader: trailing whitespace on each line and at the end does not count.
    return value.replace(/\r\n/g, "\n").split("\n").map((line) => line.replace(/\s+$/, "")).join("\n").replace(/\s+$/, "");
  }

  function studentTraceback(stderr) {
    const lines = stderr.replace(/\n+$/, "").split("\n");
    const start = lines.indexOf("Traceback (most recent call last):");
    if (start < 0) return { text: stderr, line: null };
    const kept = [lines[start]];
    let keep = false;
    let errorLine = null;
    for (const line of lines.slice(start + 1)) {
      const frameMatch = /^ {2}File "([^"]+)", line (\d+)/.exec(line);
      if (frameMatch) {
        keep = frameMatch[1] === "main.py" || frameMatch[1] === "test.py";
        if (frameMatch[1] === "main.py") errorLine = Number(frameMatch[2]);
      } else if (!line.startsWith(" ")) {
        keep = true;
      }
      if (keep) kept.push(line);
    }
    return { text: lines.slice(0, start).concat(kept).join("\n"), line: errorLine };
  }

  function clearMarkers() {
    if (editor) window.monaco.editor.setModelMarkers(editor.getModel(), "run", []);
  }

  function markLine(line, message) {
    if (!editor || !line) return;
    window.monaco.editor.setModelMarkers(editor.getModel(), "run", [{
      startLineNumber: line, endLineNumber: line, startColumn: 1, endColumn: 1000,
      message, severity: window.monaco.MarkerSeverity.Error,
    }]);
    editor.revealLineInCenter(line);
  }

  function finish(message) {
    const kind = running.kind;
    const exampleTests = running.tests;
    running = null;
    runButton.disabled = false;
    if (kind === "tests") { showTests(message.results, exampleTests); say(text.ready); return; }
    if (!message.results.length) { say(text.finished); return; }
    const result = message.results[0];
    if (result.error) {
      const trace = studentTraceback(result.error);
      append(trace.text + "\n", "stderr");
      markLine(trace.line, trace.text.split("\n").pop());
      say(text.failed);
    } else {
      say(text.finished);
    }
    // outputType "console" shows text only; "visual" and "auto" show a drawing when there is one.
    if (message.drawing && data.outputType !== "console") {
      draw(JSON.parse(message.drawing));
      const share = document.getElementById("share-drawing-form");  // only after a passed submission
      if (share) { share.elements.drawing.value = message.drawing; share.hidden = false; }
    }
    if (message.figures && data.outputType !== "console") showFigures(JSON.parse(message.figures));
    if (!result.error && data.tests.length) start("tests");
    if (!result.error && data.mode === "playground" && data.runOnce && !submittedPlayground) {
      submittedPlayground = true;  // the server runs it too and records the completion
      window.htmx.ajax("POST", data.submitUrl, { target: "#submission-panel", swap: "outerHTML", values: { code: code() } });
    }
  }

  function finishTimeout() {
    running = null;
    runnerReady = false;
    append(text.timeLimit + "\n", "stderr");
    say(text.loading);  // the runner frame starts a fresh worker; Run comes back when it is ready
  }

  function finishPackage(name) {
    running = null;
    runButton.disabled = false;
    append(text.packageMissing.replace("{name}", name) + "\n", "stderr");
    say(text.failed);
  }

  function showTests(results, tests) {
    testsPanel.replaceChildren();
    lastTestResults = [];
    let passed = 0;
    results.forEach((result, index) => {
      const test = tests[index];
      // The worker judges with the Python core's comparison (the grader's own, with the test's
      // comparison mode) where the prelude has it; otherwise the default rule, mirrored here.
      const same = result.same !== undefined && result.same !== null ? result.same
        : normalise(result.stdout) === normalise(test.expectedOutput);
      const ok = !result.error && !result.timeout && !result.truncated && same;
      passed += ok ? 1 : 0;
      const item = document.createElement("li");
      item.className = ok ? "passed" : "failed";
      const title = document.createElement("strong");
      title.textContent = (ok ? "✓ " : "✗ ") + test.name;
      item.appendChild(title);
      if (!ok) {
        const detail = document.createElement("pre");
        detail.className = "code";
        detail.textContent = result.timeout ? text.timeLimit
          : result.error ? studentTraceback(result.error).text
          : result.truncated ? text.tooMuchOutput
          : text.expected + "\n" + test.expectedOutput + "\n" + text.got + "\n" + result.stdout;
        item.appendChild(detail);
      }
      testsPanel.appendChild(item);
      lastTestResults.push({ name: test.name, passed: ok, stdout: result.stdout, error: result.error,
        timeout: !!result.timeout, truncated: !!result.truncated });
    });
    const summary = document.createElement("li");
    summary.className = "muted summary";
    summary.textContent = text.testsSummary.replace("{passed}", passed).replace("{total}", results.length);
    testsPanel.appendChild(summary);
  }

  // ---- turtle drawing as SVG (built element by element: nothing is parsed as markup) ----
  function draw(drawing) {
    const ns = "http://www.w3.org/2000/svg";
    const points = [];
    drawing.lines.forEach((l) => { points.push([l[0], l[1]], [l[2], l[3]]); });
    drawing.dots.forEach((d) => points.push([d[0], d[1]]));
    drawing.fills.forEach((f) => f[0].forEach((p) => points.push(p)));
    drawing.texts.forEach((t) => points.push([t[0], t[1]]));
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => -p[1]);
    const pad = 20;
    const minX = Math.min(...xs) - pad, minY = Math.min(...ys) - pad;
    const width = Math.max(Math.max(...xs) - minX + pad, 1), height = Math.max(Math.max(...ys) - minY + pad, 1);
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `${minX} ${minY} ${width} ${height}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", text.drawing);
    const background = document.createElementNS(ns, "rect");
    [["x", minX], ["y", minY], ["width", width], ["height", height], ["fill", drawing.bg]].forEach(([k, v]) => background.setAttribute(k, v));
    svg.appendChild(background);
    drawing.fills.forEach(([polygon, colour]) => {
      const shape = document.createElementNS(ns, "polygon");
      shape.setAttribute("points", polygon.map((p) => `${p[0]},${-p[1]}`).join(" "));
      shape.setAttribute("fill", colour);
      svg.appendChild(shape);
    });
    drawing.lines.forEach(([x1, y1, x2, y2, colour, stroke]) => {
      const line = document.createElementNS(ns, "line");
      [["x1", x1], ["y1", -y1], ["x2", x2], ["y2", -y2], ["stroke", colour], ["stroke-width", stroke], ["stroke-linecap", "round"]]
        .forEach(([k, v]) => line.setAttribute(k, v));
      svg.appendChild(line);
    });
    drawing.dots.forEach(([x, y, size, colour]) => {
      const dot = document.createElementNS(ns, "circle");
      [["cx", x], ["cy", -y], ["r", size / 2], ["fill", colour]].forEach(([k, v]) => dot.setAttribute(k, v));
      svg.appendChild(dot);
    });
    drawing.texts.forEach(([x, y, words, colour, align, size]) => {
      const label = document.createElementNS(ns, "text");
      [["x", x], ["y", -y], ["fill", colour], ["font-size", size * 1.5],
        ["text-anchor", align === "center" ? "middle" : align === "right" ? "end" : "start"]].forEach(([k, v]) => label.setAttribute(k, v));
      label.textContent = words;
      svg.appendChild(label);
    });
    visual.replaceChildren(svg);
    visual.hidden = false;
  }

  function showFigures(images) {
    // PNG bytes made by matplotlib in the worker, shown as data: images (nothing parsed as markup).
    const pictures = images.map((base64, index) => {
      const image = document.createElement("img");
      image.src = "data:image/png;base64," + base64;
      image.alt = text.figure.replace("{n}", index + 1);
      return image;
    });
    visual.replaceChildren(...pictures);
    visual.hidden = false;
  }

  // ---- buttons ----------------------------------------------------------------
  runButton.addEventListener("click", () => start("program"));
  document.getElementById("reset-button").addEventListener("click", () => {
    if (window.confirm(text.confirmReset)) setCode(data.starterCode);
  });
  const hintButton = document.getElementById("hint-button");
  if (hintButton) {
    const hints = Array.from(document.querySelectorAll("#hints li"));
    hints.forEach((hint) => { hint.hidden = true; });
    document.querySelectorAll("#hints details").forEach((d) => { d.open = true; });
    hintButton.hidden = false;
    hintButton.addEventListener("click", () => {
      const next = hints.find((hint) => hint.hidden);
      if (next) next.hidden = false;
      if (!hints.some((hint) => hint.hidden)) hintButton.disabled = true;
    });
  }
  // The submission form sends the editor's code (htmx reads the textarea, kept in sync).
  document.body.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt && event.detail.elt.id === "submit-form") {
      event.detail.parameters.code = code();
      clearTests();  // they were for the code as it was when Run was pressed, not for what is submitted
    }
  });
  // The server's result is the one that counts: once it is shown, no example-test result from
  // an earlier Run may stand beside it and say otherwise.
  document.body.addEventListener("htmx:afterSettle", () => {
    const panel = document.getElementById("submission-panel");
    // A graded panel no longer polls (templates/coding/_panel.html) and shows the score.
    if (panel && !panel.hasAttribute("hx-trigger") && panel.querySelector("h2")) clearTests();
  });

  function clearTests() {
    if (running && running.kind === "tests") return;
    lastTestResults = [];
    testsPanel.replaceChildren(...data.tests.map((test) => {
      const item = document.createElement("li");
      item.textContent = test.name;
      return item;
    }));
  }

  runButton.disabled = false;
  say(text.idle);
  // Python starts now, not on Run: it is ready when the student is. Not after the page's load event
  // either: Monaco's scripts hold that back by about a second, and Python loads in a worker of the
  // runner frame, off this page's main thread.
  fetched = fetchFiles();
  loadRunner();
  // For restoring an older submission into the editor, and for browser tests.
  window.babyowlCoding = {
    code, setCode, editorReady: () => editor !== null, runTests: (tests) => start("tests", tests || data.tests),
    testResults: () => (running ? null : lastTestResults), ready: () => runnerReady,
  };
})();
