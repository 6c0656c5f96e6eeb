"""How fast the `zhidu` CLI answers: `python -m bench.cli_bench`.

Each command runs as a new process, as a person types it, N times; the figures are wall-clock
medians and maxima, printed next to two baselines measured in the same run:

- `python -c pass`: starting the interpreter, which no command can beat;
- `python -c "import starter.app, worker"`: importing everything up front, what every command
  paid before the CLI imported lazily (the API, Temporal's client and worker, SQLAlchemy and
  every regulation).

`zhidu show` reads a real case from a database filled like the web benchmark's (10,000 cases,
bench/web_bench.py): a database `zhidu_clibench_<random>` on the server of DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432, dropped at the end. `--help` and `regulations` need no
database. PASS when every command's median is under the budget (1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.local import scratch_database_url
from bench.web_bench import TYPICAL, build, fill
from starter.devstack import drop_database

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 1.0


def timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[list[float], str]:
    times: list[float] = []
    out = ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"cli_bench: {' '.join(argv)} failed: {done.stderr.strip()}")
        out = done.stdout
    return times, out


async def prepare(server: str | None) -> str:
    from starter.devstack import ensure_database
    from store.migrate import upgrade

    text = scratch_database_url("zhidu_clibench", server)
    await ensure_database(text)
    await upgrade(text)
    await fill(text, build(datetime.now(UTC)))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--repeat", type=int, default=7, help="runs per command")
    parser.add_argument("--database-url", help="a PostgreSQL server (default DATABASE_URL, "
                        "else postgresql://postgres@127.0.0.1:5432)")  # fmt: skip
    args = parser.parse_args(argv)
    python = sys.executable
    zhidu = shutil.which("zhidu", path=str(Path(python).parent))
    if zhidu is None:
        print("cli_bench: no `zhidu` next to this Python (pip install -e .)", file=sys.stderr)
        return 2
    print("cli_bench: filling a database with 10,000 cases …", file=sys.stderr, flush=True)
    url = asyncio.run(prepare(args.database_url))
    try:
        with tempfile.TemporaryDirectory(prefix="zhidu-clibench-") as data_dir:
            # A data dir of its own: no dev stack is found, the database is the one filled here.
            env = {**os.environ, "DATABASE_URL": url, "ZHIDU_DATA_DIR": data_dir}
            env.pop("ZHIDU_POLICY_FILE", None)
            runs = {
                "python -c pass (baseline)": [python, "-c", "pass"],
                "import everything (old CLI)": [python, "-c", "import starter.app, worker"],
                "zhidu --help": [zhidu, "--help"],
                "zhidu regulations": [zhidu, "regulations"],
                f"zhidu show {TYPICAL}": [zhidu, "show", TYPICAL],
            }
            results = {}
            for name, command in runs.items():
                times, out = timed(command, env, args.repeat)
                if name.startswith("zhidu show"):
                    assert TYPICAL in out and "open tasks" in out, out
                results[name] = times
    finally:
        asyncio.run(drop_database(url))
    base = statistics.median(results["python -c pass (baseline)"])
    eager = statistics.median(results["import everything (old CLI)"])
    print(f"zhidu CLI, {args.repeat} runs each, wall clock per process (budget {BUDGET_S:g} s)")
    print(f"  {'command':<34} {'median':>8} {'max':>8} {'× python':>9} {'vs eager':>9}")
    ok = True
    for name, times in results.items():
        med = statistics.median(times)
        line = (
            f"  {name:<34} {med:>7.2f}s {max(times):>7.2f}s {med / base:>8.1f}× {med / eager:>8.2f}"
        )
        if name.startswith("zhidu"):
            passed = med < BUDGET_S
            ok = ok and passed
            line += "  PASS" if passed else "  OVER"
        print(line)
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
