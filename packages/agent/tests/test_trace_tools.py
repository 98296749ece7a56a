"""The shared trace tools over real Crafter traces: index, views, prompts, grep caps, Python."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from automem_agent import RoleModels, ScriptedModel, memory_agent_factory, run_suite
from automem_agent.meta import ToolError, TraceLibrary, TraceTools
from automem_envs import EpisodeSpec, Suite
from automem_memfs import Action, Append, Done, format_call

LINE = "- the same note again"


def _policy(request) -> str:
    last = request.messages[-1].content
    if "LOG phase" in last:
        return format_call(Append(path="notes.md", content=LINE)) + "\n" + format_call(Done())
    step = int(last.split("step ", 1)[1].split(".", 1)[0]) if "step " in last else 0
    return format_call(Action(text="fly away" if step % 7 == 6 else "noop"))


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> TraceLibrary:
    root = tmp_path_factory.mktemp("traces")
    from automem_agent import builtin_scaffold, load_scaffold

    scaffold = load_scaffold(builtin_scaffold("v0"))
    suite = Suite(
        name="t",
        episodes=[EpisodeSpec(env_id="crafter", seed=s, max_steps=400) for s in (42, 43)],
    )
    factory = memory_agent_factory(scaffold, RoleModels.single(ScriptedModel(_policy)))
    asyncio.run(run_suite(suite, factory, root, concurrency=2, progress=False))
    return TraceLibrary.from_dir(root / "eval", root / "cache", reply_limits={"plan": 80})


@pytest.fixture
def tools(library: TraceLibrary, tmp_path: Path) -> TraceTools:
    return TraceTools(library, {"cache": library.cache_dir})


def test_index_labels_endings_and_finds_the_duplicates(library: TraceLibrary) -> None:
    assert library.names == ["crafter__42", "crafter__43"]
    index = library.index("crafter__42")
    assert index.ended in ("death", "step limit")  # a noop agent in Crafter dies or times out
    assert index.steps == len(index.raw_offsets) - 1 == len(index.text_offsets) - 1
    assert index.invalid_steps[:2] == [6, 13]
    notes = next(f for f in index.memory_files if f.path == "notes.md")
    # v0 has no LOG at step 0, so one note per later step, all but the first a duplicate.
    assert notes.lines >= index.steps - 1 and notes.duplicate_lines == index.steps - 2
    assert index.op_counts["append"] == index.steps - 1
    assert index.memory_samples[-1][1] > index.memory_samples[0][1]
    # A second library over the same cache reads the index back instead of re-reading traces.
    again = TraceLibrary(library.traces, library.cache_dir).index("crafter__42")
    assert again == index


def test_views_prompts_and_grep_are_bounded(tools: TraceTools, library: TraceLibrary) -> None:
    view = tools.view({"episode": "crafter__42", "start": 5, "end": 7})
    assert view.startswith("=== step 5 |") and "=== step 7 |" in view and "=== step 8" not in view
    wide = tools.view({"episode": "crafter__42", "start": 0, "end": 49})
    assert len(wide) <= 12_000 + 200 and "[cut: steps" in wide and "view start=" in wide
    prompts = tools.prompts({"episode": "crafter__43", "step": 3})
    assert "--- [system]" in prompts and "PLAN phase, step 3" in prompts and "[reply]" in prompts
    hits = tools.grep({"pattern": "INVALID", "path": "cache", "per_file": 2, "context": 1})
    assert "crafter__42.txt:" in hits and "more in this file" in hits and "[step 6]" in hits
    assert hits.count("INVALID, ran") <= 4 + 4  # 2 hits per file (plus their context lines)
    capped = tools.grep({"pattern": "INVALID", "path": "cache", "per_file": 3, "max_results": 3})
    assert "1 more files with matches, not shown: cache/crafter__43.txt" in capped
    with pytest.raises(ToolError, match="leaves"):
        tools.grep({"pattern": "x", "path": "cache/../.."})


def test_python_analysis_reads_traces_and_cuts_output(tools: TraceTools) -> None:
    out = tools.python(
        {
            "code": "n = sum(1 for r in library.steps('crafter__42', 0, 50) if not r.valid_action)\n"
            "print('invalid in 0..50:', n)\nlen(library.names)"
        }
    )
    assert "invalid in 0..50: 7" in out and out.strip().endswith("2")
    long = tools.python({"code": "print('y' * 20000)"})
    assert len(long) < 8200 and "[cut: " in long.splitlines()[-1]
    broken = tools.python({"code": "1 / 0"})
    assert "ZeroDivisionError" in broken
    slow = TraceTools(tools.library, {"c": tools.library.cache_dir})
    slow.analysis = type(slow.analysis)(wall_s=2.0)
    assert "did not finish within 2 s" in slow.python({"code": "while True: pass"})


def test_a_cut_off_trace_is_labelled(library: TraceLibrary, tmp_path: Path) -> None:
    source = library.traces["crafter__42"]
    lines = source.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(lines[:20]) + lines[20][:30])  # killed mid-line, no summary
    shutil.rmtree(tmp_path / "c", ignore_errors=True)
    index = TraceLibrary({"cut": cut}, tmp_path / "c").index("cut")
    assert index.ended == "cut off" and index.steps == 19
