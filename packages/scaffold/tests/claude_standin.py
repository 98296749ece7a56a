"""A stand-in for the Claude Code CLI (`claude -p PROMPT --output-format json ...`).

It behaves like the CLI where the reviewer relies on it: it works in its cwd (bundle/ and
candidate/), keeps a session file under `$CLAUDE_CONFIG_DIR/projects/<cwd>/<id>.jsonl`,
honours `--resume ID`, and prints one JSON result with usage and cost. What it does on each
call comes from the JSON list in `$AUTOMEM_CLAUDE_STANDIN` (one behaviour per call, counted
in a file beside it): edit, broken, resume-fix, escape, crash, fail-json, hang. Each call's
argv, prompt and environment names go to `<that file>.calls.jsonl`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

STRATEGY_LINE = "STRATEGY: walk to the nearest tree, face it and use `do` to collect wood."
BROKEN_HOOK = "def analyze(observation, history:\n"
GOOD_HOOK = "def analyze(observation, history):\n    return ''\n"
COST = 0.25


def _arg(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def _session_file(session: str) -> Path:
    slug = str(Path.cwd()).replace("/", "-")
    root = Path(os.environ["CLAUDE_CONFIG_DIR"]) / "projects" / slug
    root.mkdir(parents=True, exist_ok=True)
    return root / f"{session}.jsonl"


def _log(session: str, role: str, blocks: list[dict]) -> None:
    with _session_file(session).open("a") as f:
        f.write(json.dumps({"type": role, "message": {"role": role, "content": blocks}}) + "\n")


def _tool(session: str, name: str, args: dict, result: str, is_error: bool = False) -> None:
    call = f"toolu_{uuid.uuid4().hex[:8]}"
    _log(session, "assistant", [{"type": "tool_use", "id": call, "name": name, "input": args}])
    block = {"type": "tool_result", "tool_use_id": call, "content": result, "is_error": is_error}
    _log(session, "user", [block])


def _result(session: str, text: str, **extra: object) -> None:
    _log(session, "assistant", [{"type": "text", "text": text}])
    out = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "num_turns": 3,
        "result": text,
        "session_id": session,
        "total_cost_usd": COST,
        "usage": {
            "input_tokens": 1000,
            "cache_creation_input_tokens": 200,
            "cache_read_input_tokens": 3000,
            "output_tokens": 150,
        },
        "permission_denials": [],
    }
    out.update(extra)
    print(json.dumps(out))


def main() -> int:
    argv = sys.argv[1:]
    script = Path(os.environ["AUTOMEM_CLAUDE_STANDIN"])
    counter = script.with_suffix(".count")
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    behaviour = json.loads(script.read_text())[n]
    prompt = _arg(argv, "-p") or ""
    resume = _arg(argv, "--resume")
    with script.with_suffix(".calls.jsonl").open("a") as f:
        record = {
            "behaviour": behaviour,
            "argv": argv,
            "cwd": os.getcwd(),
            "env": sorted(os.environ),
        }
        f.write(json.dumps(record) + "\n")
    if resume is not None and not _session_file(resume).exists():
        print(f"No conversation found with session ID: {resume}", file=sys.stderr)
        return 1
    session = resume or str(uuid.uuid4())
    _log(session, "user", [{"type": "text", "text": prompt}])
    system = Path("candidate/prompts/system.md")
    if behaviour == "hang":
        time.sleep(3600)
    elif behaviour == "crash":
        print("Error: connection refused (ANTHROPIC_API_KEY=sk-standin-secret)", file=sys.stderr)
        return 1
    elif behaviour == "fail-json":
        print(json.dumps({"type": "result", "subtype": "error_during_execution", "is_error": True,
                          "session_id": session, "result": "overloaded", "total_cost_usd": 0.01,
                          "usage": {"input_tokens": 10, "output_tokens": 1}}))  # fmt: skip
        return 1
    elif behaviour == "edit":
        summary = Path("bundle/summary.md").read_text()
        _tool(session, "Read", {"file_path": "bundle/summary.md"}, summary[:200])
        lineage = Path("bundle/lineage.md").read_text()
        _tool(session, "Read", {"file_path": "bundle/lineage.md"}, lineage[:200])
        ok = subprocess.run(
            ["./sandbox", "python3", "-c", "print(len(open('bundle/summary.md').read()))"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        _tool(session, "Bash", {"command": "./sandbox python3 -c ..."}, ok.stdout + ok.stderr)
        refused = subprocess.run(
            ["./sandbox", "sh", "-c", "echo x > bundle/evil.txt"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        _tool(session, "Bash", {"command": "./sandbox sh -c 'echo x > bundle/evil.txt'"},
              refused.stderr, is_error=refused.returncode != 0)  # fmt: skip
        system.write_text(STRATEGY_LINE + "\n" + system.read_text())
        _tool(session, "Edit", {"file_path": str(system)}, "ok")
        _result(session, "The agent idles with noop; I told it to collect wood.")
    elif behaviour == "broken":
        Path("candidate/hooks.py").write_text(BROKEN_HOOK)
        _tool(session, "Write", {"file_path": "candidate/hooks.py"}, "ok")
        _result(session, "Added an analyze hook.")
    elif behaviour == "resume-fix":
        assert resume is not None and "syntax error" in prompt, prompt
        Path("candidate/hooks.py").write_text(GOOD_HOOK)
        _tool(session, "Write", {"file_path": "candidate/hooks.py"}, "ok")
        _result(session, "Fixed the hook's syntax.")
    elif behaviour == "escape":
        system.write_text("Be careful.\n" + system.read_text())
        denial = {"tool_name": "Write", "tool_use_id": "toolu_x",
                  "tool_input": {"file_path": "bundle/summary.md", "content": "all good"}}  # fmt: skip
        _result(session, "Tidied the summary.", permission_denials=[denial])
    else:
        print(f"unknown behaviour {behaviour!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
