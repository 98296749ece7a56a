"""Benchmark of automem-memfs on a 1 MB memory across 50 files.

Prints ops/s and p50/p99 latency for append (no fsync; also with a redaction list, and a 5 KB
append, which crosses a memory page and so is written by an atomic rewrite), search (all files),
read (a line range and a whole file), str_replace and snapshot (unchanged and after one append),
with baselines measured in the same run: `grep -r` for the same search, plain append for the
redacting one, and a naive snapshot that rehashes every file. Run: `uv run python tools/bench_memfs.py [--files 50] [--kb 1024]`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from automem_memfs import Append, Limits, MemoryStore, Read, Search, StrReplace

TARGETS = {"append": 50e-6, "search (50 files)": 5e-3, "snapshot (unchanged)": 2e-3}


def seed_memory(root: Path, files: int, total_kb: int) -> None:
    rng = random.Random(0)
    things = ["tree", "stone", "water", "sand", "coal", "iron", "grass", "table", "zombie", "cow"]
    per_file = total_kb * 1024 // files
    for f in range(files):
        lines, size, i = [], 0, 0
        while size < per_file:
            line = f"({rng.randint(-64, 64)}, {rng.randint(-64, 64)}) {rng.choice(things)} seen at step {i}; path clear to the {rng.choice(['north', 'south', 'east', 'west'])}"
            lines.append(line)
            size += len(line) + 1
            i += 1
        lines[len(lines) // 2] = f"UNIQUE-MARKER-{f} diamond vein found here"
        (root / f"notes_{f:02d}.md").write_text("\n".join(lines) + "\n")


def timed(fn: Callable[[int], object], n: int, warmup: int = 5) -> list[float]:
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(int(q * len(s)), len(s) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--kb", type=int, default=1024, help="memory size in KiB")
    ap.add_argument("--n", type=int, default=500, help="samples per op")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-memfs-"))
    try:
        root = tmp / "mem"
        root.mkdir()
        seed_memory(root, args.files, args.kb)
        store = MemoryStore(
            root, limits=Limits(max_file_bytes=1 << 22, max_total_bytes=1 << 28, max_files=10_000)
        )
        size = store.total_bytes
        rows: list[tuple[str, list[float]]] = []
        n = args.n
        names = [f"notes_{f:02d}.md" for f in range(args.files)]

        rows.append(
            (
                "append",
                timed(
                    lambda i: store.apply(
                        Append(path=names[i % len(names)], content=f"(1, {i}) bench line {i}")
                    ),
                    n * 4,
                ),
            )
        )
        keys = ["sk-bench-0123456789abcdef0123", "hf_bench_ABCDEFGHIJKLMNOPQRSTUV"]
        redacting = MemoryStore(root, limits=store.limits, redact=keys)
        rows.append(
            (
                "append, redacting 2 keys",
                timed(
                    lambda i: redacting.apply(
                        Append(path=names[i % len(names)], content=f"(2, {i}) bench line {i}")
                    ),
                    n * 4,
                ),
            )
        )
        redacting.close()
        big = "y" * 5000  # crosses a 4 KiB page: appended by an atomic rewrite
        rows.append(
            (
                "append 5 KB (atomic rewrite)",
                timed(lambda i: store.apply(Append(path="big.md", content=big)), n // 5),
            )
        )
        search = Search(pattern="diamond vein", max_results=20)
        assert store.apply(search).text.startswith(f"{args.files} matching lines")
        rows.append(("search (50 files)", timed(lambda i: store.apply(search), n)))
        rows.append(
            (
                "search regex (50 files)",
                timed(
                    lambda i: store.apply(
                        Search(pattern=r"^UNIQUE-MARKER-\d+ diamond", regex=True)
                    ),
                    n,
                ),
            )
        )
        rows.append(
            (
                "read lines 100-140",
                timed(
                    lambda i: store.apply(Read(path=names[i % len(names)], start=100, end=140)), n
                ),
            )
        )
        rows.append(
            ("read whole file", timed(lambda i: store.apply(Read(path=names[i % len(names)])), n))
        )

        def replace(i: int) -> None:
            f = i % len(names)
            r = store.apply(
                StrReplace(path=names[f], old=f"UNIQUE-MARKER-{f} ", new=f"UNIQUE-MARKER-{f}  ")
            )
            assert r.ok, r.text
            store.apply(
                StrReplace(path=names[f], old=f"UNIQUE-MARKER-{f}  ", new=f"UNIQUE-MARKER-{f} ")
            )

        rows.append(("str_replace (x2)", timed(replace, n // 2)))
        store.snapshot()
        rows.append(("snapshot (unchanged)", timed(lambda i: store.snapshot(), n)))
        rows.append(
            (
                "snapshot (after 1 append)",
                timed(
                    lambda i: (store.apply(Append(path=names[0], content="x")), store.snapshot()),
                    n // 2,
                ),
            )
        )

        # Baselines, same files, same run.
        grep = shutil.which("grep")
        base: list[tuple[str, list[float], str]] = []
        if grep:
            cmd = [grep, "-r", "-n", "-i", "diamond vein", str(root)]
            base.append(
                (
                    "grep -r -n -i",
                    timed(
                        lambda i: subprocess.run(cmd, capture_output=True, check=True),
                        n // 5,
                        warmup=3,
                    ),
                    "search (50 files)",
                )
            )

        base.append(("append, no redaction list", rows[0][1], "append, redacting 2 keys"))

        def naive_snapshot(i: int) -> None:
            h = hashlib.blake2b(digest_size=16)
            for dirpath, _, fnames in os.walk(root):
                for fn in sorted(fnames):
                    h.update(
                        hashlib.blake2b(Path(dirpath, fn).read_bytes(), digest_size=16).digest()
                    )

        base.append(
            ("naive snapshot (rehash all)", timed(naive_snapshot, n // 5), "snapshot (unchanged)")
        )

        print(
            f"memfs benchmark: {args.files} files, {size / 1e6:.2f} MB, {os.cpu_count()} CPUs, fsync off\n"
        )
        print(f"{'op':30} {'ops/s':>10} {'p50 µs':>10} {'p99 µs':>10}  target")
        p50s = {}
        for name, xs in rows:
            p50s[name] = pct(xs, 0.5)
            tgt = TARGETS.get(name)
            verdict = (
                ""
                if tgt is None
                else f"<= {tgt * 1e6:,.0f} µs {'OK' if pct(xs, 0.5) <= tgt else 'MISSED'}"
            )
            print(
                f"{name:30} {len(xs) / sum(xs):>10,.0f} {pct(xs, 0.5) * 1e6:>10,.1f} {pct(xs, 0.99) * 1e6:>10,.1f}  {verdict}"
            )
        print(
            f"\n{'baseline':30} {'ops/s':>10} {'p50 µs':>10} {'p99 µs':>10}  memfs p50 / baseline p50"
        )
        for name, xs, vs in base:
            ratio = p50s[vs] / pct(xs, 0.5)
            note = f"{ratio:.2f}x ({vs})"
            if vs.startswith("search"):
                note += f"  target <= 3x: {'OK' if ratio <= 3 else 'MISSED'}"
            print(
                f"{name:30} {len(xs) / sum(xs):>10,.0f} {pct(xs, 0.5) * 1e6:>10,.1f} {pct(xs, 0.99) * 1e6:>10,.1f}  {note}"
            )
        print(f"\nmean append {statistics.fmean(rows[0][1]) * 1e6:.1f} µs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
