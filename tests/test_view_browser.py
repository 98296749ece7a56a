"""The run viewer (automem-view) in headless Chromium over a real small Loop 1 run (real Crafter
seeds, a scripted agent that writes memory and commits one invalid action, a replayed meta-LLM
whose one revision is kept) and a Loop 2 ledger: what a researcher sees, checked through the DOM.
Each test saves a screenshot of its page into its tmp dir."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from functools import partial
from pathlib import Path
from urllib.parse import quote

import msgspec
import pytest
from automem_agent import ChatRequest, ScriptedModel, read_trace
from automem_agent.models import ReplayModel
from automem_scaffold import EvolveConfig, evolve
from automem_train import DatasetReport, Recipe, TrainResult, TrialRecord, append_ledger
from automem_view import export_static, serve_in_thread
from test_evolve_policies import meta_tool_call

pytestmark = pytest.mark.slow

STRATEGY = "STRATEGY: walk to the nearest tree and collect wood with do."
_TREE = re.compile(r"tree (\d+) (north|south|east|west)")
INVALID_STEP = 3  # the step where the agent asks for an action the game does not have
STEPS = 8


def agent_policy(request: ChatRequest) -> str:
    """LOG appends one line per step (and rewrites notes.md at step 2); PLAN moves or idles."""
    user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    step = int(m.group(1)) if (m := re.search(r"phase, step (\d+)", user)) else 0
    if user.startswith("LOG phase"):
        ops = f"<|APPEND|>log.md|step {step}: looked around<|END|>"
        if step == 2:
            ops += "<|WRITE|>notes.md|# Notes\ntrees lie east\n<|END|>"
        return ops + "\n<|DONE|>"
    if step == INVALID_STEP:
        return "<|ACTION|>fly north<|END|>"
    system = request.messages[0].content if request.messages else ""
    return "<|ACTION|>" + (_wood(user) if STRATEGY in system else "noop") + "<|END|>"


def _wood(observation: str) -> str:
    if "You face tree" in observation:
        return "do"
    seen = _TREE.search(observation)
    return f"move {seen.group(2)}" if seen else "move north"


_meta = partial(meta_tool_call, model="claude-opus-4-5", input_tokens=900, output_tokens=40)


def build_run(root: Path) -> Path:
    replay = root / "meta.jsonl"
    entries = [
        _meta(1, "read", path="bundle/summary.md"),
        _meta(2, "insert", path="candidate/prompts/system.md", line=0, content=STRATEGY),
        _meta(3, "finish", rationale="The agent idles; tell it to move."),
    ]
    replay.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in entries))
    run = root / "run"
    config = EvolveConfig(
        run_dir=str(run),
        seeds=2,
        held_out=0,
        max_steps=STEPS,
        iterations=1,
        agent_llm="scripted:viewer-test",
        meta_llm=f"replay:{replay}",
        review_turns=4,
        repair_attempts=0,
    )
    agent = ScriptedModel(agent_policy, name="scripted-agent")
    asyncio.run(evolve(config, agent_model=agent, meta_model=ReplayModel(replay)))
    return run


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_run(tmp_path_factory.mktemp("viewer-run"))


@pytest.fixture(scope="module")
def chrome():
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install ...)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1500,1100")
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    browser.set_page_load_timeout(30)
    yield browser
    browser.quit()


EPISODE = "iterations/001/eval/crafter/42.jsonl"


def _wait(browser, css: str, timeout: float = 40.0):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def _wait_text(browser, css: str, text: str, timeout: float = 40.0) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
    )


def _shot(browser, path: Path) -> None:
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1500, min(max(height + 60, 600), 5000))
    browser.save_screenshot(str(path))
    browser.set_window_size(1500, 1100)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def site(small_run: Path):
    server, url = serve_in_thread(small_run)
    yield url
    server.shutdown()


def _texts(browser, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, css)]


def test_run_page_shows_iterations_lineage_and_episodes(chrome, site, small_run, tmp_path):
    chrome.get(site + "#/")
    _wait(chrome, "#iterations > tbody > tr")
    rows = _texts(chrome, "#iterations > tbody > tr")
    decisions = {
        json.loads(p.read_text())["iteration"]: json.loads(p.read_text())
        for p in small_run.glob("iterations/*/decision.json")
    }
    assert len(rows) == len(decisions) == 2
    assert rows[0].startswith("000") and "start" in rows[0]
    assert "kept" in rows[1] and decisions[1]["kept"]
    gate = decisions[1]["gate"]
    assert f"{100 * gate['mean_delta']:+.2f}" in rows[1]  # Δ mean and interval
    assert f"[{100 * gate['ci_low']:+.2f}, {100 * gate['ci_high']:+.2f}]" in rows[1]
    lineage = _texts(chrome, "#lineage li")
    assert lineage[0].startswith("000") and "001" in lineage[0] and "incumbent" in lineage[0]
    assert len(_texts(chrome, "#episodes tbody tr")) == 4
    assert "progression.png" in chrome.page_source
    _shot(chrome, tmp_path / "run.png")


def test_episode_step_turns_memory_diff_and_keyboard(chrome, site, small_run, tmp_path):
    from selenium.webdriver.common.by import By

    chrome.get(site + f"#/ep/{quote(EPISODE, safe='')}?step=2")
    _wait_text(chrome, "#step-title", "step 2")
    assert chrome.find_element(By.ID, "step-count").text == str(STEPS)
    assert len(_texts(chrome, "#steps tbody tr")) == STEPS
    record = json.loads((small_run / EPISODE).read_text().splitlines()[3])  # step 2
    turns = chrome.find_elements(By.CSS_SELECTOR, "#turns .turn")
    assert [t.get_attribute("data-phase") for t in turns] == [t["phase"] for t in record["turns"]]
    responses = _texts(chrome, "#turns pre.response")
    assert responses[0] == record["turns"][0]["response"].strip()
    assert "tokens in" in turns[0].text and "finish:" in turns[0].text
    # The trace writes each prompt once per step; every turn still shows its whole prompt.
    whole = read_trace(small_run / EPISODE).steps[2].turns
    assert any(t["shared"] for t in record["turns"])
    for turn, shown in zip(whole, turns, strict=True):
        prompt = shown.find_element(By.CSS_SELECTOR, ".tb > details:not(.extra)")
        summary = prompt.find_element(By.TAG_NAME, "summary").get_attribute("textContent")
        assert summary.startswith(f"prompt ({len(turn.messages)} messages")
        boxes = prompt.find_elements(By.CSS_SELECTOR, "pre.box")
        assert [b.get_attribute("textContent") for b in boxes] == [
            m["content"] for m in turn.messages
        ]
    diff = chrome.find_element(By.ID, "memory-diff")
    assert {
        e.get_attribute("data-path") for e in diff.find_elements(By.CSS_SELECTOR, "[data-path]")
    } == set(record["memory_diff"])
    assert "+ trees lie east" in diff.text and "rewritten" in diff.text
    tree = chrome.find_element(By.ID, "memory-tree")
    assert "notes.md" in tree.text and "reference/" in tree.text
    _shot(chrome, tmp_path / "episode.png")

    chrome.find_element(By.TAG_NAME, "body").send_keys("j")
    _wait_text(chrome, "#step-title", f"step {INVALID_STEP}")
    assert "fly north" in chrome.find_element(By.ID, "step-action").text
    assert "invalid" in chrome.find_element(By.CSS_SELECTOR, ".step .card").text
    chrome.find_element(By.TAG_NAME, "body").send_keys("k")
    _wait_text(chrome, "#step-title", "step 2")
    chrome.find_element(By.TAG_NAME, "body").send_keys("n")  # next event: the invalid action
    _wait_text(chrome, "#step-title", f"step {INVALID_STEP}")
    _shot(chrome, tmp_path / "step.png")


def test_timeline_click_jumps_to_that_step(chrome, site):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    chrome.get(site + f"#/ep/{quote(EPISODE, safe='')}?step=0")
    _wait_text(chrome, "#step-title", "step 0")
    chart = chrome.find_element(By.CSS_SELECTOR, "svg[data-chart=progression]")
    width = chart.size["width"]
    # The chart's x axis spans 30..990 of 1000 units; aim at the last step.
    ActionChains(chrome).move_to_element_with_offset(chart, int(width * 0.49), 0).click().perform()
    _wait_text(chrome, "#step-title", f"step {STEPS - 1}")


def test_loop2_trials_table(chrome, small_run, tmp_path):
    run = tmp_path / "loop2"
    (run / "pool" / "eval" / "crafter").mkdir(parents=True)
    shutil.copyfile(small_run / EPISODE, run / "pool" / "eval" / "crafter" / "42.jsonl")
    ok = TrialRecord(
        index=0,
        recipe=Recipe(name="log-heavy", rationale="LOG turns that wrote useful notes"),
        proposer="meta",
        status="ok",
        dataset=DatasetReport(examples=37, per_env={"crafter": 37}, per_phase={"log": 37}),
        train=TrainResult(adapter_dir="a", steps=4, first_loss=2.5, final_loss=1.25),
        score=12.5,
    )
    failed = TrialRecord(
        index=1, recipe=Recipe(), proposer="fallback", status="failed", note="no examples"
    )
    append_ledger(run, ok)
    append_ledger(run, failed)
    server, url = serve_in_thread(run)
    try:
        chrome.get(url + "#/")
        _wait(chrome, "#trials tbody tr")
        rows = _texts(chrome, "#trials > tbody > tr")
        assert len(rows) == 2
        assert "log-heavy" in rows[0] and "37" in rows[0] and "2.500 → 1.250" in rows[0]
        assert "12.5" in rows[0] and "failed" in rows[1] and "no examples" in rows[1]
        assert len(_texts(chrome, "#episodes tbody tr")) == 1
        _shot(chrome, tmp_path / "loop2.png")
    finally:
        server.shutdown()


def test_compare_and_filters(chrome, site, tmp_path):
    a, b = quote("iterations/000/eval/crafter/42.jsonl", safe=""), quote(EPISODE, safe="")
    chrome.get(site + f"#/cmp?a={a}&b={b}&step=2")
    _wait(chrome, ".cmp-col .step")
    assert len(_texts(chrome, ".cmp-col .step")) == 2
    assert len(_texts(chrome, "#aligned tbody tr")) >= 3
    _shot(chrome, tmp_path / "compare.png")

    chrome.get(site + "#/find?kind=invalid")
    _wait_text(chrome, "#find-count", "hits")
    assert chrome.find_element("id", "find-count").text.startswith("4 hits")  # 2 iterations x 2
    chrome.get(site + "#/find?kind=text&q=" + quote("trees lie east"))
    _wait_text(chrome, "#find-count", "hit")
    assert "trees lie east" in chrome.find_element("css selector", ".hits").text
    _shot(chrome, tmp_path / "search.png")


def test_torn_trace_and_missing_memory_show_notices(chrome, small_run, tmp_path):
    run = tmp_path / "torn-run"
    (run / "eval" / "crafter").mkdir(parents=True)
    data = (small_run / EPISODE).read_bytes()
    cut = data.rstrip(b"\n").rfind(b"\n") + 40  # the summary line, cut mid-write
    (run / "eval" / "crafter" / "42.jsonl").write_bytes(data[:cut])
    server, url = serve_in_thread(run)
    try:
        chrome.get(url + "#/")
        _wait(chrome, ".notice")
        assert "incomplete" in chrome.find_element("css selector", ".notice").text
        chrome.get(url + "#/ep/" + quote("eval/crafter/42.jsonl", safe=""))
        _wait_text(chrome, "#step-title", "step 0")
        page = " ".join(_texts(chrome, ".notice"))
        assert "last line is incomplete" in page and "memory directory" in page
        assert chrome.find_element("id", "step-count").text == str(STEPS)
        _shot(chrome, tmp_path / "torn.png")
    finally:
        server.shutdown()


def test_static_export_opens_from_disk(chrome, small_run, tmp_path):
    out = tmp_path / "export"
    index = export_static(small_run, out)
    chrome.get(index.as_uri() + "#/")
    _wait(chrome, "#iterations > tbody > tr")
    assert len(_texts(chrome, "#iterations > tbody > tr")) == 2
    chrome.get(index.as_uri() + f"#/ep/{quote(EPISODE, safe='')}?step=2")
    _wait_text(chrome, "#step-title", "step 2")
    assert "+ trees lie east" in chrome.find_element("id", "memory-diff").text
    chrome.find_element("tag name", "body").send_keys("j")
    _wait_text(chrome, "#step-title", f"step {INVALID_STEP}")
    _shot(chrome, tmp_path / "export.png")
    shutil.rmtree(out)
