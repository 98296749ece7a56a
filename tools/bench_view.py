"""Benchmark of the run viewer on a synthetic Loop 1 run: 10 Crafter episodes x 2,000 steps.

For the run page, an episode page (its timeline plus the first page of steps) and one late step
it prints the time to first byte and the payload size, cold (first request, indexes built) and
warm (cached), against the baseline of reading the raw JSONL files whole (the run's 10 files
for the run page, one file for the episode and the step), raw bytes and decoded by the agent's
public `read_trace`. With `--browser` it also times the run and episode pages in headless
Chromium until their tables are on screen.

    uv run tools/bench_view.py [--episodes 10] [--steps 2000] [--browser]
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlparse

from automem_agent import LLMTurn, StepRecord, TraceHeader, TraceWriter, read_trace
from automem_agent.trace import EpisodeSummary
from automem_envs import EpisodeStats
from automem_view import serve_in_thread

SYSTEM = (
    "You are playing crafter, one action per step. Each step has two phases: LOG (write what "
    "you learned to memory, then DONE) and PLAN (look things up, then one ACTION). " * 3
)


def _step(n: int) -> StepRecord:
    obs = f"Status: health 9/9, food 8/9.\nYou face tree (north).\nYou see: water 3 east, stone {n % 5} south."
    log_prompt = [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"LOG phase, step {n}.\nWhat happened: {obs}\n" + "index " * 40,
        },
    ]
    log = LLMTurn(
        phase="log",
        role="memory",
        round=1,
        messages=log_prompt,
        response=f"<|APPEND|>log.md|step {n}: saw stone<|END|><|DONE|>",
        input_tokens=480,
        output_tokens=20,
        latency_s=0.4,
    )
    plan = LLMTurn(
        phase="plan",
        role="action",
        round=1,
        messages=[*log_prompt, {"role": "user", "content": f"PLAN phase, step {n}.\n{obs}"}],
        response="<|ACTION|>move north<|END|>",
        input_tokens=720,
        output_tokens=8,
        latency_s=0.3,
    )
    diff = (
        {"notes.md": f"# Notes\nrewritten at step {n}\n" + "fact\n" * (n % 30)}
        if n % 25 == 0
        else {"log.md": {"append": f"step {n}: saw stone\n"}}
    )
    return StepRecord(
        step=n,
        observation=obs,
        turns=[log, plan],
        action="move north" if n % 97 else "fly",
        executed_action="move north" if n % 97 else "noop",
        valid_action=bool(n % 97),
        progression=min(1.0, n / 20000),
        memory_bytes=2000 + 22 * n,
        op_counts={"append": 1} if n % 25 else {"write": 1},
        memory_diff=diff,
    )


def build_run(root: Path, episodes: int, steps: int) -> list[Path]:
    paths = []
    for seed in range(42, 42 + episodes):
        path = root / "iterations" / "000" / "eval" / "crafter" / f"{seed}.jsonl"
        header = TraceHeader(
            env_id="crafter",
            seed=seed,
            max_steps=steps,
            agent="memory",
            scaffold_name="v0",
            scaffold_hash="0" * 64,
            models={"memory": "qwen", "action": "qwen"},
        )
        with TraceWriter(path, header) as writer:
            for n in range(steps):
                writer.write(_step(n))
            stats = EpisodeStats(env_id="crafter", seed=seed, steps=steps, progression=0.1)
            writer.write(EpisodeSummary(stats=stats, status="finished", steps=steps))
        (root / "iterations" / "000" / "memory" / "crafter" / str(seed)).mkdir(parents=True)
        paths.append(path)
    (root / "iterations" / "000" / "decision.json").write_text(
        '{"iteration": 0, "parent": null, "kept": true, "stage": "start", "reason": "start"}'
    )
    return paths


def _get(url: str) -> tuple[float, float, int]:
    """(seconds to first byte, seconds to the last byte, body size) of one GET."""
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    start = time.perf_counter()
    conn.request("GET", u.path + ("?" + u.query if u.query else ""))
    response = conn.getresponse()
    first = time.perf_counter() - start
    body = response.read()
    total = time.perf_counter() - start
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{url}: HTTP {response.status}: {body[:200]!r}")
    return first, total, len(body)


def _baseline(paths: list[Path]) -> tuple[float, float, int]:
    start = time.perf_counter()
    size = sum(len(p.read_bytes()) for p in paths)
    raw = time.perf_counter() - start
    start = time.perf_counter()
    for p in paths:
        read_trace(p)
    return raw, time.perf_counter() - start, size


def _browser(url: str, episode: str) -> list[tuple[str, float]]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = shutil.which("chromedriver") or "chromedriver"
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    out = []
    try:
        for label, frag, css in (
            ("run page in Chromium", "#/", "#episodes tbody tr"),
            (
                "episode page in Chromium",
                f"#/ep/{quote(episode, safe='')}?step=1500",
                "#turns .turn",
            ),
        ):
            browser.get("about:blank")
            start = time.perf_counter()
            browser.get(url + frag)
            WebDriverWait(browser, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))
            out.append((label, time.perf_counter() - start))
    finally:
        browser.quit()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--browser", action="store_true", help="also time pages in headless Chromium")
    a = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-view-"))
    try:
        t0 = time.perf_counter()
        paths = build_run(root, a.episodes, a.steps)
        total_mb = sum(x.stat().st_size for x in paths) / 1e6
        print(
            f"synthetic run: {a.episodes} x {a.steps} steps, {total_mb:.1f} MB of traces "
            f"(built in {time.perf_counter() - t0:.1f} s)\n"
        )
        server, url = serve_in_thread(root)
        ep = "iterations/000/eval/crafter/42.jsonl"
        q = quote(ep, safe="")
        late = a.steps * 3 // 4
        pages = [
            ("run page", [url + "api/run"], paths),
            (
                "episode page",
                [f"{url}api/episode?ep={q}", f"{url}api/steps?ep={q}&limit=100"],
                paths[:1],
            ),
            (f"step {late}", [f"{url}api/step?ep={q}&n={late}"], paths[:1]),
        ]
        head = f"{'page':<14} {'cold TTFB':>10} {'warm TTFB':>10} {'payload':>10} | {'read whole':>10} {'read_trace':>10} {'bytes':>10} | {'speed-up':>8} {'smaller':>8}"
        print(head)
        print("-" * len(head))
        for label, urls, files in pages:
            cold = [_get(u) for u in urls]
            warm = [_get(u) for u in urls]
            cold_ttfb = sum(c[0] for c in cold)
            warm_ttfb = sum(w[0] for w in warm)
            size = sum(c[2] for c in cold)
            raw, decoded, base_bytes = _baseline(files)
            print(
                f"{label:<14} {cold_ttfb * 1e3:>8.1f}ms {warm_ttfb * 1e3:>8.1f}ms {size / 1e3:>8.1f}kB | "
                f"{raw * 1e3:>8.1f}ms {decoded * 1e3:>8.1f}ms {base_bytes / 1e3:>8.0f}kB | "
                f"{decoded / max(cold_ttfb, 1e-9):>7.1f}x {base_bytes / max(size, 1):>7.0f}x"
            )
        print(
            "\nspeed-up: read_trace of the files whole / the viewer's cold time to first byte; "
            "smaller: raw bytes / payload."
        )
        if a.browser:
            print()
            for label, seconds in _browser(url, ep):
                print(f"{label:<28} {seconds:.2f} s until its table is on screen")
        server.shutdown()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
