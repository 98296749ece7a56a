"""A real small Loop 1 run for the viewer's tests: real Crafter seeds, a scripted agent that
writes memory and commits one invalid action, and a replayed meta-LLM whose one revision is kept.
Also headless Chromium through Selenium (skipped, with the install line, when it is missing)."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import msgspec
import pytest
from automem_agent import ChatRequest, ChatResponse, ScriptedModel, ToolCall
from automem_agent.models import ReplayEntry, ReplayModel

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


def _meta(i: int, name: str, **args: object) -> ReplayEntry:
    response = ChatResponse(
        text="",
        tool_calls=[ToolCall(id=f"t{i}", name=name, input=args)],
        input_tokens=900,
        output_tokens=40,
        model="claude-opus-4-5",
        finish_reason="tool_use",
    )
    return ReplayEntry(purpose="meta", response=response)


def build_run(root: Path) -> Path:
    from automem_scaffold import EvolveConfig, evolve

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


@pytest.fixture(scope="session")
def facts() -> dict[str, int]:
    """What the scripted agent of `small_run` does, for the tests to check against."""
    return {"steps": STEPS, "invalid_step": INVALID_STEP}


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_run(tmp_path_factory.mktemp("viewer-run"))


@pytest.fixture(scope="session")
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
