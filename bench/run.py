"""``make bench``: measure agentwatch beside its references in one run; write RESULTS.md.

1. Create or reuse the virtual environments under bench/.venvs (venvs.py).
2. Start the stub backend (stub_server.py) and a throwaway PostgreSQL cluster
   (agentwatch.server.pgcluster), both on 127.0.0.1.
3. Run every benchmark script several times, each run in a fresh process, rounds
   interleaved (A B C, A B C, ...) so that drift of the machine spreads over all of them.
4. Measure import times with ``python -X importtime``.
5. Write bench/RESULTS.md and the raw runs to bench/out/results.json.

Options: ``--render`` (no measuring: RESULTS.md again from ``bench/out/results.json``);
``--quick`` (one run each, small bursts: a smoke test of the harness);
``--only KEY,KEY`` (just those benches, no import times; the report goes to
``bench/out/RESULTS-only.md``), e.g. ``--only otlp,sqlite_indexed,pg_floor`` for the OTLP
ingest figures and the floors they are compared with (``otlp`` names its seven benches).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import venvs
from agentwatch.server.pgcluster import ClusterUnavailable, throwaway_cluster
from common import RESULT_PREFIX, arg, flag, free_port, get_json, wait_until_up
from report import write_report

OUT_DIR = venvs.BENCH_DIR / "out"
RUN_TIMEOUT_S = 240
IMPORT_RUNS = 15  # imports vary by +-30 % run to run on this kind of machine


@dataclass
class Bench:
    """One benchmark: a script run ``runs`` times in a venv.

    ``{pg}`` in ``args`` is replaced by the PostgreSQL cluster's admin URL; without a
    cluster the bench is not run and reports why.
    """

    key: str
    venv: venvs.VenvSpec
    script: str
    args: list[str]
    runs: int = 3
    timeout_s: float = RUN_TIMEOUT_S
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def benches(quick: bool) -> list[Bench]:
    burst = "2000" if quick else "50000"
    walk_n = "500" if quick else "10000"  # ~1 ms per event: 50,000 would take a minute
    return [
        Bench("otel", venvs.FLOOR, "bench_otel.py", ["--n", "10000" if quick else "100000"], 5),
        Bench(
            "otel_decorated",
            venvs.FLOOR,
            "bench_otel.py",
            ["--decorated", "--n", "10000" if quick else "100000"],
            5,
        ),
        Bench("ao3_walk", venvs.AGENTOPS03, "bench_agentops03.py", ["--n", walk_n]),
        Bench("ao3_nowalk", venvs.AGENTOPS03, "bench_agentops03.py", ["--n", burst, "--no-walk"]),
        Bench("ao4", venvs.AGENTOPS04, "bench_agentops04.py", ["--n", burst]),
        Bench("langfuse", venvs.LANGFUSE, "bench_langfuse.py", ["--n", burst]),
        *agentwatch_benches(quick, burst),
        Bench("sqlite_indexed", venvs.FLOOR, "bench_sqlite.py", ["--indexed"]),
        Bench("sqlite_pk", venvs.FLOOR, "bench_sqlite.py", []),
        Bench("pg_floor", venvs.FLOOR, "bench_pg.py", ["--url", "{pg}"]),
        Bench("http", venvs.FLOOR, "bench_http.py", ["--seconds", "2" if quick else "8"]),
        *otlp_benches(quick),
    ]


def otlp_benches(quick: bool) -> list[Bench]:
    """Spans stored per second through /v1/traces: agentwatch (SQLite, PostgreSQL), Phoenix,
    and the senders' own ceiling (a receiver that only counts).

    One sender making its spans as it goes (one agent process, capped by its own SDK near
    14,000 spans/s here), and a fleet: four sender processes exporting spans made before
    the clock starts. Phoenix stores ~100 spans/s here (its inserter writes 100 per
    transaction and sleeps between them): one sender, two runs and a longer timeout.
    """
    n = ["--n", "1000" if quick else "10000"]
    fleet = ["--n", "2000" if quick else "20000", "--senders", "4", "--premade"]
    pg = ["--pg-admin", "{pg}"]
    aw = ["--target", "agentwatch"]
    ceiling = ["--target", "stub"]
    return [
        Bench("otlp_aw", venvs.FLOOR, "bench_otlp.py", [*aw, *n]),
        Bench("otlp_aw_fleet", venvs.FLOOR, "bench_otlp.py", [*aw, *fleet]),
        Bench("otlp_aw_pg", venvs.FLOOR, "bench_otlp.py", [*aw, *pg, *n]),
        Bench("otlp_aw_pg_fleet", venvs.FLOOR, "bench_otlp.py", [*aw, *pg, *fleet]),
        # The same senders against a receiver that only counts: the most any receiver can get.
        Bench("otlp_stub", venvs.FLOOR, "bench_otlp.py", [*ceiling, *n]),
        Bench("otlp_stub_fleet", venvs.FLOOR, "bench_otlp.py", [*ceiling, *fleet]),
        Bench(
            "otlp_phoenix",
            venvs.FLOOR,
            "bench_otlp.py",
            ["--target", "phoenix", *n],
            runs=2,
            timeout_s=900,
        ),
    ]


def selected(all_benches: list[Bench], only: str) -> list[Bench]:
    """The benches named in ``only`` (comma-separated keys; ``otlp`` is its seven)."""
    keys = {k.strip() for k in only.split(",") if k.strip()}
    if "otlp" in keys:
        keys |= {b.key for b in otlp_benches(False)}
    chosen = [b for b in all_benches if b.key in keys]
    unknown = keys - {b.key for b in all_benches} - {"otlp"}
    if unknown:
        raise SystemExit(f"--only: unknown bench {sorted(unknown)}")
    return chosen


def agentwatch_benches(quick: bool, burst: str) -> list[Bench]:
    """The agentwatch SDK figures of issues 6 and 11 (bench_agentwatch.py; hooks for new ones)."""
    small = "1000" if quick else "10000"
    runs = [
        ("aw_record", ["record", "--n", burst]),
        ("aw_record_nested", ["record", "--nested", "--n", burst]),
        ("aw_decorated", ["decorated", "--n", burst]),
        ("aw_threads", ["threads", "--threads", "8", "--n", "250" if quick else "10000"]),
        ("aw_start", ["start", "--n", "200"]),
        ("aw_memory", ["memory", "--n", "5000" if quick else "100000"]),
        ("aw_server_burst", ["server-burst", "--n", burst]),
        ("aw_server_burst_pg", ["server-burst", "--n", burst, "--pg-admin", "{pg}"]),
        ("aw_end_pending", ["end-pending", "--n", small]),
        ("aw_server_ingest", ["server-ingest", "--batches", "30" if quick else "300"]),
    ]
    return [Bench(key, venvs.AGENTWATCH, "bench_agentwatch.py", args) for key, args in runs]


def run_once(bench: Bench, stub: str, pg: str | ClusterUnavailable, scratch: Path) -> None:
    """Run the script once; append its RESULT (or the reason it gave none)."""
    if "{pg}" in bench.args and isinstance(pg, ClusterUnavailable):
        bench.results.append({"unavailable": f"PostgreSQL: {pg}"})
        return
    args = [a.replace("{pg}", str(pg)) for a in bench.args] + ["--stub", stub]
    cmd = [str(bench.venv.python), str(venvs.BENCH_DIR / bench.script), *args]
    # cwd is a scratch dir: agentops 0.4 writes agentops.log into the working directory.
    try:
        proc = subprocess.run(
            cmd,
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=bench.timeout_s,
            env=child_env(str(venvs.BENCH_DIR)),
            check=False,
        )
    except subprocess.TimeoutExpired:
        bench.errors.append(f"timed out after {bench.timeout_s:.0f} s")
        return
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        bench.errors.append(f"exit {proc.returncode}: {proc.stderr.strip()[-600:]}")
        return
    bench.results.append(json.loads(lines[-1][len(RESULT_PREFIX) :]))


def child_env(bench_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTOPS_", "LANGFUSE_"))}
    # Scripts import common.py from bench/; keep the SDKs quiet and out of any OTel env.
    env.update({"PYTHONPATH": bench_dir, "AGENTOPS_LOGGING_LEVEL": "WARNING"})
    for key in [k for k in env if k.startswith("OTEL_")]:
        del env[key]
    return env


def import_time_ms(python: Path, module: str) -> float:
    """Cumulative ``-X importtime`` of ``module`` in a fresh process, in ms."""
    proc = subprocess.run(
        [str(python), "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    cumulative = [
        int(parts[1])
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
        and len(parts := [p.strip() for p in line[len("import time:") :].split("|")]) == 3
        and parts[2] == module
    ]
    return max(cumulative) / 1000


def import_times() -> dict[str, list[float]]:
    """Every module of ``IMPORTS``, IMPORT_RUNS times, the modules interleaved (drift is shared).

    The references are installed from wheels, so pip compiled their bytecode; agentwatch
    is an editable install, whose bytecode is only written on first import, and not at
    all under PYTHONDONTWRITEBYTECODE. Compile it first, as installing the wheel would,
    or its import would be timed compiling source.
    """
    src = venvs.REPO_DIR / "src" / "agentwatch"
    subprocess.run([str(venvs.AGENTWATCH.python), "-m", "compileall", "-q", str(src)], check=True)
    samples: dict[str, list[float]] = {f"{m} ({spec.name})": [] for m, spec in IMPORTS}
    for _ in range(IMPORT_RUNS):
        for module, spec in IMPORTS:
            samples[f"{module} ({spec.name})"].append(import_time_ms(spec.python, module))
    return samples


IMPORTS = [
    ("opentelemetry.sdk.trace", venvs.FLOOR),
    ("agentops", venvs.AGENTOPS03),
    ("agentops", venvs.AGENTOPS04),
    ("langfuse", venvs.LANGFUSE),
    ("agentwatch", venvs.AGENTWATCH),
]


@contextmanager
def postgres(needed: bool = True) -> Iterator[str | ClusterUnavailable]:
    """The throwaway cluster's admin URL, or why there is none (the PG figures say so)."""
    if not needed:
        yield ClusterUnavailable("not started: no bench of this run needs it")
        return
    with ExitStack() as stack:
        try:
            # Default durability (fsync, synchronous_commit on): what a user gets.
            url = stack.enter_context(throwaway_cluster(durable=True))
        except ClusterUnavailable as exc:
            yield exc
            return
        yield url


@contextmanager
def stub_server(scratch: Path) -> Iterator[str]:
    port = free_port()
    script = str(venvs.BENCH_DIR / "stub_server.py")
    cmd = [str(venvs.FLOOR.python), script, "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=scratch, env=child_env(str(venvs.BENCH_DIR)))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_stub/stats")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if "model name" in ln), "?"
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    mem_gib = int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20
    os_release = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_gib:.1f} GiB",
        "python": platform.python_version(),
        "os": f"{os_release.get('PRETTY_NAME', '?').strip(chr(34))}, Linux {platform.release()}",
        # Anything else running competes for the two cores; the report shows it.
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def agentwatch_revision() -> str:
    """The commit measured, and whether src/ differed from it (the venv is editable)."""
    git = ["git", "-C", str(venvs.REPO_DIR)]
    try:
        commit = subprocess.check_output([*git, "rev-parse", "--short", "HEAD"], text=True).strip()
        dirty = subprocess.check_output([*git, "status", "--porcelain", "--", "src"], text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" with uncommitted changes in src/" if dirty.strip() else "")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def render() -> None:
    """``--render``: RESULTS.md again from the last full run's bench/out/results.json (after
    a change to the report alone), keeping the sections other scripts wrote."""
    data = json.loads((OUT_DIR / "results.json").read_text())
    target = venvs.BENCH_DIR / "RESULTS.md"
    write_keeping_sections(target, data)
    log(f"wrote {target} from {OUT_DIR / 'results.json'} ({data['date']})")


def write_keeping_sections(target: Path, data: dict[str, Any]) -> None:
    """The report of ``data`` into ``target``, with the marked sections it held kept."""
    report = write_report(data)
    if target.exists():
        report = kept_sections(report, target.read_text())
    target.write_text(report)


def main() -> None:
    if flag("render"):
        render()
        return
    quick, only = flag("quick"), arg("only", "")
    started = time.monotonic()
    load_at_start = machine()["load"]
    all_benches = selected(benches(quick), only) if only else benches(quick)
    # bench_otlp.py starts the agentwatch server and Phoenix from their venvs itself.
    wanted = {b.venv.name for b in all_benches} | {venvs.AGENTWATCH.name, venvs.PHOENIX.name}
    used = [spec for spec in venvs.ALL if spec.name in wanted] if only else list(venvs.ALL)
    for spec in used:
        log(f"venv {spec.name}: {venvs.ensure(spec)}")
    OUT_DIR.mkdir(exist_ok=True)
    scratch = OUT_DIR / "scratch"
    scratch.mkdir(exist_ok=True)
    rounds = 1 if quick else max(b.runs for b in all_benches)
    wants_pg = any("{pg}" in a for b in all_benches for a in b.args)
    with stub_server(scratch) as stub, postgres(wants_pg) as pg:
        for round_no in range(rounds):
            for bench in all_benches:
                if round_no < bench.runs:
                    t0 = time.monotonic()
                    run_once(bench, stub, pg, scratch)
                    log(f"round {round_no + 1} {bench.key}: {time.monotonic() - t0:.1f} s")
        stub_calls: dict[str, int] = get_json(f"{stub}/_stub/stats")
    imports = {} if only else import_times()
    log("imports measured" if not only else "imports not measured (--only)")
    data = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {**machine(), "load_at_start": load_at_start},
        "agentwatch_revision": agentwatch_revision(),
        "quick": quick,
        "elapsed_s": time.monotonic() - started,
        "versions": {spec.name: venvs.freeze(spec) for spec in used},
        "benches": {b.key: {"results": b.results, "errors": b.errors} for b in all_benches},
        "imports_ms": imports,
        "stub_calls": stub_calls,
    }
    name = "results-only.json" if only else "results.json"
    (OUT_DIR / name).write_text(json.dumps(data, indent=1))
    # A --quick or --only run is partial: its report stays out of the repository.
    if only:
        target = OUT_DIR / "RESULTS-only.md"
    elif quick:
        target = OUT_DIR / "RESULTS-quick.md"
    else:
        target = venvs.BENCH_DIR / "RESULTS.md"
    write_keeping_sections(target, data)
    log(f"wrote {target} in {time.monotonic() - started:.0f} s")


_SECTION = re.compile(r"<!-- ([^>]+?): begin -->.*?<!-- \1: end -->", re.S)


def kept_sections(report: str, previous: str) -> str:
    """``report`` with the marked sections other scripts wrote into the previous file
    (bench_dashboard, bench_search, ...: ``<!-- name: begin -->`` ... ``end -->``) kept,
    so that running this script alone does not drop what they measured."""
    for section in _SECTION.finditer(previous):
        if f"<!-- {section.group(1)}: begin -->" not in report:
            report = report.rstrip("\n") + "\n\n" + section.group(0) + "\n"
    return report


if __name__ == "__main__":
    main()
