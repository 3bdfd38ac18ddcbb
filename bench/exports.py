"""Benchmark: the staff attendance export (CSV and xlsx) of 10,000 and 100,000 rows on PostgreSQL.

Not a test: it measures and prints. For each size it builds a fresh database
(DROP + CREATE + migrations), seeds a school with bench/attendance.py's seeder
(classes of 30 students, 5 meetings marked: 67 classes ≈ 10,050 rows, 667
classes ≈ 100,050 rows), then runs each export in a fresh Python process, so
that process's peak memory (ru_maxrss) belongs to that one export:

  * GET /reports/attendance.csv   (streamed, read chunk by chunk and counted)
  * GET /reports/attendance.xlsx  (XlsxWriter constant memory to a temporary file, then sent)
  * COPY (the export's query) TO STDOUT: PostgreSQL's own CSV, the floor the CSV is compared with
  * the xlsx built by the background job (above EXPORT_JOB_ROWS), stored on local storage

as a signed-in administrator, through the Flask test client (in process, no
network). It prints rows, bytes, seconds, rows/s, the process's resident
memory before the export and its peak (VmHWM) during it. Memory that stays flat from
10,000 to 100,000 rows shows the export never holds all rows at once.

    cd /work/main && .venv/bin/python bench/exports.py [--help]

The database named in --database-url is dropped and re-created: never point it
at a database you want to keep.
"""
from __future__ import annotations

import argparse
import contextvars
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# BENCH_CODE: another checkout's babyowl to measure (--compare runs the children of the "before" side with it).
sys.path.insert(0, os.environ.get("BENCH_CODE") or str(HERE.parent))
sys.path.insert(0, str(HERE))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import school as school_seeder  # noqa: E402  (bench/school.py: the seeded school)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/babyowl_bench_exports"
ROWS_PER_CLASS = school_seeder.CLASS_SIZE * school_seeder.PAST_MEETINGS
FORMATS = {"csv": "/reports/attendance.csv?separator=semicolon", "xlsx": "/reports/attendance.xlsx"}
# Measured in their own child process too: PostgreSQL's own COPY of the same query (the floor the CSV is
# compared with), and the xlsx built as the background job builds it above EXPORT_JOB_ROWS.
EXTRA = ("copy", "xlsx_job")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help=f"PostgreSQL database to DROP, re-create and seed (default: {DEFAULT_URL})")
    parser.add_argument("--sizes", default="10000,100000", help="export sizes in rows (default 10000,100000)")
    parser.add_argument("--measure", choices=sorted([*FORMATS, *EXTRA]), help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--keep", action="store_true", help="keep the last database afterwards (default: drop it)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure on the database as it is (seeded by an earlier run with --keep): one size")
    parser.add_argument("--kinds", default=",".join((*FORMATS, *EXTRA)),
                        help=f"what to measure, of {','.join((*FORMATS, *EXTRA))} (default: all)")
    parser.add_argument("--compare", metavar="DIR",
                        help="also measure the code of this checkout (e.g. the commit before a change), interleaved")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each kind this many times, interleaved (the machine's load moves meanwhile)")
    return parser.parse_args(argv)


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM peak), in MB.

    Not ru_maxrss: Linux keeps that across exec, so a child started by the
    seeding parent would report the parent's peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} in /proc/self/status")


def measure_copy(url: str) -> dict:
    """PostgreSQL's COPY of the export's own query (same columns, same order), read to nowhere."""
    import psycopg

    app = school_seeder.build_app(url)
    from sqlalchemy.dialects import postgresql

    from babyowl.services.attendance_reports import ExportFilter, _export_query

    with app.app_context():
        query = str(_export_query(ExportFilter()).compile(dialect=postgresql.dialect(),
                                                           compile_kwargs={"literal_binds": True}))
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    before_mb = _status_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    size = lines = 0
    with psycopg.connect(plain) as connection, connection.cursor() as cursor:
        with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';')") as copy:
            for chunk in copy:
                size += len(chunk)
                lines += bytes(chunk).count(b"\n")
    return {"rows": lines - 1, "bytes": size, "seconds": time.perf_counter() - started, "first_byte": None,
            "cpu": time.process_time() - cpu, "before_mb": before_mb, "peak_mb": _status_mb("VmHWM")}


def measure_job(url: str) -> dict:
    """The xlsx as the background job builds and stores it (local storage in a temporary directory)."""
    import tempfile
    import uuid

    app = school_seeder.build_app(url)
    storage_dir = tempfile.mkdtemp(prefix="babyowl-bench-exports-")
    app.config.update(STORAGE_BACKEND="local", STORAGE_DIR=storage_dir)
    from babyowl.extensions import db
    from babyowl.blueprints.reports.export_job import build_attendance_export
    from babyowl.models import User

    with app.app_context():
        admin_id = db.session.scalars(sa.select(User.id).where(User.role == "super_admin")).first()
        db.session.remove()
    before_mb = _status_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    with app.app_context():
        key = build_attendance_export(str(uuid.uuid4()), str(admin_id), {}, "xlsx", "comma", "attendance")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    path = Path(storage_dir) / key
    from openpyxl import load_workbook

    rows = sum(1 for _ in load_workbook(path, read_only=True).active.iter_rows(values_only=True)) - 1
    size = path.stat().st_size
    import shutil

    shutil.rmtree(storage_dir)
    return {"rows": rows, "bytes": size, "seconds": seconds, "first_byte": None, "cpu": cpu, "before_mb": before_mb,
            "peak_mb": _status_mb("VmHWM")}


def measure(url: str, kind: str) -> dict:
    """In the child process: one export, streamed to nowhere, with its time and memory."""
    if kind == "copy":
        return measure_copy(url)
    if kind == "xlsx_job":
        return measure_job(url)
    app = school_seeder.build_app(url)
    # In the request whatever the size: what is measured is the writing itself (a job does the same work).
    app.config["EXPORT_JOB_ROWS"] = 10**9
    from babyowl.extensions import db
    from babyowl.models import User

    with app.app_context():
        admin_id = db.session.scalar(sa.select(User.id).where(User.role == "super_admin"))
        db.session.remove()
    client = school_seeder.signed_in_client(app, admin_id)  # a live session row, named in the cookie
    client.get("/dashboard")  # imports, templates and the connection pool warm, not counted
    before_mb = _status_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()

    def export():
        response = client.get(FORMATS[kind], buffered=False)
        if response.status_code != 200:
            raise SystemExit(f"{FORMATS[kind]} answered {response.status_code}")
        size, lines, tail = 0, 0, b""
        body = open(saved, "wb") if kind == "xlsx" else None  # kept on disk to be checked afterwards
        for chunk in response.response:
            if not size:
                first_byte.append(time.perf_counter() - started)
            size += len(chunk)
            if body is not None:
                body.write(chunk)
            else:
                lines += chunk.count(b"\n")
                tail = (tail + chunk)[-2000:]
        response.close()
        if body is not None:
            body.close()
        return size, lines, tail

    saved = f"/tmp/babyowl-bench-{os.getpid()}.xlsx"
    first_byte: list[float] = []
    size, lines, tail = contextvars.Context().run(export)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = _status_mb("VmHWM")
    if kind == "xlsx":
        from openpyxl import load_workbook

        rows = sum(1 for _ in load_workbook(saved, read_only=True).active.iter_rows(values_only=True)) - 1
        os.remove(saved)
    else:
        rows = lines - 1
        last = tail.decode("utf-8", "replace").strip().splitlines()[-1]
        if len(next(csv.reader([last], delimiter=";"))) != 18:
            raise SystemExit("the last CSV line is not a full row")
    return {"rows": rows, "bytes": size, "seconds": seconds, "first_byte": first_byte[0] if first_byte else None,
            "cpu": cpu, "before_mb": before_mb, "peak_mb": peak_mb}


def _child(url: str, kind: str, code: str | None = None) -> dict:
    env = {**os.environ, "BENCH_CODE": code or ""}
    load = os.getloadavg()[0]
    output = subprocess.run([sys.executable, __file__, "--database-url", url, "--measure", kind],
                            capture_output=True, text=True, env=env)
    if output.returncode:
        raise SystemExit(f"the {kind} export failed:\n{output.stderr[-3000:]}")
    return {**json.loads(output.stdout.strip().splitlines()[-1]), "load": (load, os.getloadavg()[0])}


def main(argv=None) -> int:
    args = parse_args(argv)
    url = args.database_url
    if args.measure:
        print(json.dumps(measure(url, args.measure)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [k for k in args.kinds.split(",") if k]
    sides = [("", None)] + ([("before:", str(Path(args.compare).resolve()))] if args.compare else [])
    began = time.perf_counter()
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"Attendance export benchmark on {shown}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results, server_version = [], "?"
    try:
        for size in sizes[:1] if args.reuse else sizes:
            app = school_seeder.build_app(url)
            if not args.reuse:
                classes = max(1, round(size / ROWS_PER_CLASS))
                students = classes * school_seeder.CLASS_SIZE
                school_seeder.recreate_database(url)
                app = school_seeder.build_app(url)
                with app.app_context():
                    from flask_migrate import upgrade

                    upgrade()
                started = time.perf_counter()
                seeded = school_seeder.seed(app, students, classes)
                print(f"  {seeded['counts']['attendance records']:,} attendance records seeded "
                      f"({classes} classes) in {time.perf_counter() - started:.1f} s")
            with app.app_context():
                from babyowl.extensions import db

                server_version = db.session.execute(sa.text("SHOW server_version")).scalar()
                db.session.remove()
                db.engine.dispose()
            for _round in range(args.rounds):
                for kind in kinds:
                    for label, code in sides:
                        figures = _child(url, kind, code)
                        results.append((size, label + kind, {**figures, "round": _round}))
                        print(f"    {label + kind:<16} {figures['rows']:>8,} rows {figures['bytes'] / 2**20:>7.1f} MB "
                              f"{figures['seconds']:>6.1f} s (CPU {figures['cpu']:.1f} s)  peak RSS "
                              f"{figures['peak_mb']:.0f} MB  load {figures['load'][0]:.1f}→{figures['load'][1]:.1f}",
                              flush=True)
    finally:
        if not args.keep and not args.reuse:
            school_seeder.drop_database(url)
    print()
    header = (f"{'export':<17}{'rows':>9}{'file MB':>9}{'seconds':>9}{'CPU s':>7}{'1st byte':>9}{'rows/s':>9}"
              f"{'RSS before':>11}{'peak RSS':>9}{'load':>11}")
    print(header)
    print("-" * len(header))
    for size, kind, f in results:
        first = f"{f['first_byte']:.2f}" if f.get("first_byte") is not None else "-"
        print(f"{kind:<17}{f['rows']:>9,}{f['bytes'] / 2**20:>9.1f}{f['seconds']:>9.1f}{f['cpu']:>7.1f}{first:>9}"
              f"{f['rows'] / f['seconds']:>9,.0f}{f['before_mb']:>9.0f}MB{f['peak_mb']:>7.0f}MB"
              f"{f['load'][0]:>6.1f}→{f['load'][1]:.1f}")
    # Each CSV against the COPY measured next to it (same round, so under much the same load).
    copies = {f["round"]: f for _, kind, f in results if kind == "copy"}
    for size, kind, f in results:
        if kind.endswith("csv") and f["round"] in copies:
            copy = copies[f["round"]]
            print(f"  {size:,} rows, {kind}: {f['seconds'] / copy['seconds']:.2f}x PostgreSQL's COPY of the same "
                  f"query measured beside it ({f['seconds']:.2f} s / {copy['seconds']:.2f} s; target <= 2.5x)")
    for kind in FORMATS:
        peaks = [f["peak_mb"] - f["before_mb"] for _, k, f in results if k == kind]
        if len(peaks) > 1 and len(sizes) > 1:
            print(f"  {kind}: memory the export added: " + " → ".join(f"{p:.0f} MB" for p in peaks)
                  + " (from the smallest to the largest export)")
    print(f"  Python {platform.python_version()}, PostgreSQL {server_version}, {os.cpu_count()} CPU cores, "
          f"{platform.platform()}; through the Flask test client, PostgreSQL on the same machine.")
    print(f"  total run time {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
