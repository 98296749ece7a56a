"""The review phase through the real Anthropic SDK (native tool use), served by
`httpx2.MockTransport`: the meta-LLM lists and reads the bundle, edits its scaffold copy,
and finishes; the candidate is validated and the session recorded."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

pytest.importorskip("anthropic", reason="needs the 'anthropic' extra")
httpx2 = pytest.importorskip("httpx2", reason="needs the 'anthropic' extra (httpx2)")

from automem_agent import builtin_scaffold  # noqa: E402
from automem_agent.models import AnthropicModel  # noqa: E402
from automem_scaffold import ReviewSettings, build_ledger, revise  # noqa: E402

MODEL = "claude-opus-4-5"


def _message(i: int, name: str, args: dict) -> dict:
    return {
        "id": f"msg_{i}",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [
            {"type": "text", "text": f"Step {i}."},
            {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": args},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 2000, "output_tokens": 100, "cache_read_input_tokens": 0},
    }


def test_review_phase_with_native_tool_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-secret")
    script = [
        ("list", {"path": "bundle"}),
        ("read", {"path": "bundle/summary.md"}),
        ("str_replace", {"path": "candidate/prompts/plan.md", "old": "commit exactly one ACTION",
                         "new": "commit exactly one ACTION; prefer `do` when facing a tree"}),
        ("finish", {"rationale": "The agent never collects wood; nudge it to use do at trees."}),
    ]  # fmt: skip
    bodies: list[dict] = []

    def server(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        bodies.append(body)
        i = len(bodies) - 1
        return httpx2.Response(200, json=_message(i, *script[i]))

    model = AnthropicModel(
        MODEL, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server))
    )
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "summary.md").write_text("# Iteration 000 evaluation\n| crafter__42 | 0.000 |\n")
    it = tmp_path / "run" / "iterations" / "001"
    outcome = asyncio.run(
        revise(
            iteration=1,
            incumbent=0,
            incumbent_scaffold=builtin_scaffold("v0"),
            incumbent_mean=0.0,
            bundle_dir=bundle,
            episodes=["crafter__42"],
            out_dir=it,
            meta=model,
            settings=ReviewSettings(turns=10, smoke_steps=2),
        )
    )
    assert outcome.ok, outcome.reason
    assert outcome.changed_files == ["prompts/plan.md"]
    assert outcome.rationale and "collects wood" in outcome.rationale
    assert "prefer `do`" in (it / "scaffold" / "prompts" / "plan.md").read_text()
    # Native tool use on the wire: tools offered, each result returned as a tool_result block.
    assert {t["name"] for t in bodies[0]["tools"]} >= {"list", "read", "str_replace", "finish"}
    assert "<tool name=" not in bodies[0]["system"]
    result = bodies[2]["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_1"
    assert "Iteration 000 evaluation" in result["content"]
    review = (it / "review.md").read_text()
    assert "native tool use" in review and "nudge it to use do" in review
    ledger = build_ledger(tmp_path / "run")
    assert ledger.meta_tokens == 4 * 2100
    assert ledger.dollars == pytest.approx(4 * (2000 * 5 + 100 * 25) / 1e6)
