"""Several vLLM replicas behind one spec: least-loaded routing and failover, against two
loopback fake servers, one of which dies mid-run."""

from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("httpx", reason="needs the 'openai' extra (httpx)")

from automem_agent import PlayConfig, play
from automem_agent._chat import ModelUnavailable
from automem_agent.models import BalancedModel, load_model
from test_models_openai import FakeServer, ok_body, req


@pytest.fixture
def servers():
    pair = [FakeServer(), FakeServer()]
    yield pair
    for s in pair:
        s.httpd.shutdown()
        s.httpd.server_close()


def kill(server: FakeServer) -> None:
    server.httpd.shutdown()
    server.httpd.server_close()


def test_requests_spread_over_replicas_and_survive_one_dying(servers):
    a, b = servers
    model = load_model(f"openai:{a.url},{b.url}#m", api_key_env=None)
    assert isinstance(model, BalancedModel)
    for s in servers:
        for _ in range(40):
            s.then(body=ok_body("ok"), delay=0.05)

    async def burst(n: int) -> list[str]:
        return [r.text for r in await asyncio.gather(*(model.complete(req()) for _ in range(n)))]

    async def scenario() -> list[str]:
        first = await burst(8)
        kill(a)
        return first + await burst(8)

    texts = asyncio.run(scenario())
    assert texts == ["ok"] * 16
    assert len(a.requests) >= 2 and len(b.requests) >= 2  # both served while both lived
    assert model.served[1] >= 8  # b took over everything after a died


def test_a_request_fails_only_when_every_replica_failed(servers):
    a, b = servers
    model = load_model(f"openai:{a.url},{b.url}#m", api_key_env=None)
    kill(a)
    kill(b)
    with pytest.raises(ModelUnavailable, match="every endpoint of m failed") as info:
        asyncio.run(model.complete(req()))
    assert a.url in str(info.value) and b.url in str(info.value)


def test_a_rejected_request_is_not_retried_elsewhere(servers):
    a, b = servers
    model = load_model(f"openai:{a.url},{b.url}#m", api_key_env=None)
    for s in servers:
        s.then(status=400, body={"error": "prompt too long"})
    with pytest.raises(ModelUnavailable, match="HTTP 400"):
        asyncio.run(model.complete(req()))
    assert len(a.requests) + len(b.requests) == 1


def test_episodes_finish_when_one_replica_dies_mid_run(servers, tmp_path):
    a, b = servers
    for s in servers:
        for _ in range(400):
            s.then(body=ok_body("ACTION: noop"))

    def kill_after(n: int) -> None:
        while len(a.requests) < n:
            threading.Event().wait(0.01)
        kill(a)

    threading.Thread(target=kill_after, args=(6,), daemon=True).start()
    result, _ = play(
        PlayConfig(
            envs=["crafter"],
            seeds=[1, 2],
            max_steps=8,
            llm=f"openai:{a.url},{b.url}#m",
            scaffold="v0",
            concurrency=2,
            out=str(tmp_path / "run"),
            progress=False,
        )
    )
    assert result.errored == 0 and len(result.episodes) == 2
    assert all(e.summary.steps == 8 for e in result.episodes)
    assert len(a.requests) >= 6 and len(b.requests) > len(a.requests)
