// Build the memory snapshot the coding page's runner restores instead of starting Python from scratch
// (Pyodide's own start-up is most of the browser's wait: ~3.7 s against ~0.2 s for a restore).
// Made for the exact Pyodide in babyowl/static/vendor/pyodide/ (Pyodide refuses a snapshot of another
// build), checked by restoring it once here, and written only then. Private API of pyodide 314.0.7
// (`_makeSnapshot`, `makeMemorySnapshot`, `_loadSnapshot`): re-check when the version changes.
// Usage: node scripts/make_browser_snapshot.mjs babyowl/static/vendor/pyodide
import { createHash } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const dir = resolve(process.argv[2] || "babyowl/static/vendor/pyodide");
// Stored and sent gzip-compressed (30 MB → ~6 MB), never raw; the runner's worker unpacks it with
// DecompressionStream. Sent as a plain .gz file rather than with Content-Encoding: the browser's cache
// then holds and hands over 6 MB, not 30 (measured: ~1 s of a 2.5 s cached start went to reading it).
const target = `${dir}/browser-snapshot.bin.gz`;
const { loadPyodide } = await import(pathToFileURL(`${dir}/pyodide.mjs`).href);
const quiet = { stdout: () => {}, stderr: () => {} };

const pyodide = await loadPyodide({ indexURL: `${dir}/`, _makeSnapshot: true, ...quiet });
// Modules nearly every run imports (the prelude's among them): already imported after a restore.
pyodide.runPython("import ast, base64, builtins, collections, functools, io, itertools, json, math, os, random, re, string, sys, time");
const snapshot = pyodide.makeMemorySnapshot();

const restored = await loadPyodide({ indexURL: `${dir}/`, _loadSnapshot: snapshot, ...quiet });
if (restored.runPython("import math; math.factorial(5)") !== 120) throw new Error("the snapshot does not restore");

writeFileSync(`${target}.tmp`, gzipSync(snapshot, { level: 9 }));
renameSync(`${target}.tmp`, target);
rmSync(`${dir}/browser-snapshot.bin`, { force: true });
const digest = createHash("sha256").update(snapshot).digest("hex");
const version = JSON.parse(readFileSync(`${dir}/package.json`, "utf8")).version;
console.log(`browser snapshot for pyodide ${version}: ${(snapshot.length / 2 ** 20).toFixed(1)} MB, sha256 ${digest.slice(0, 16)}`);
