"""`--meta-llm claude-code[:MODEL]`: the Claude Code CLI as the reviewer, as in the paper.

The CLI runs headless (`claude -p TASK --output-format json`) in a workspace holding a copy of
the bundle and the candidate scaffold. Its tools are cut to Read, Grep, Glob, Edit/Write (auto-
approved only under `candidate/`, refused under `bundle/`) and Bash, approved only as
`./sandbox COMMAND`, which runs the command in bubblewrap (read-only files, no network). Any
other call is refused by the CLI's `dontAsk` mode and comes back in `permission_denials`; a
refused write counts as an escape. `--max-turns` and a wall limit (the process group is
killed) bound each run, and a continuation resumes the same CLI session (`--resume ID`).

Each CLI run is one `SessionTurn` with the usage and cost the CLI reports; its conversation,
read from the CLI's session file, becomes the transcript in `review.md`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from automem_agent import write_json_atomic, write_text_atomic
from automem_agent.meta import (
    SECRET_PATTERN,
    CallRecord,
    SandboxLimits,
    SessionTranscript,
    SessionTurn,
    run_sandboxed,
)

NAME = "claude-code"
BIN_ENV = "AUTOMEM_CLAUDE_BIN"  # the CLI executable (default: `claude` on PATH)
SESSION = "claude-session.json"  # in review/: the CLI session id, for a continuation
HOME = "claude-home"  # in review/: the CLI's $HOME and config dir (its session files)
TOOLS = "Read,Edit,Write,Grep,Glob,Bash"
ALLOWED = (
    "Read(./**),Grep(./**),Glob(./**),Edit(./candidate/**),Write(./candidate/**),Bash(./sandbox:*)"
)
DISALLOWED = "Edit(./bundle/**),Write(./bundle/**),WebFetch,WebSearch,Agent,Task,NotebookEdit"
WRITE_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
# The CLI's environment: an allow-list. Credentials for the API pass by name only.
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "NO_PROXY", "SSL_CERT_FILE")
PASSED_PREFIXES = ("ANTHROPIC_", "CLAUDE_CODE_", "AUTOMEM_CLAUDE_", "HTTPS_PROXY", "HTTP_PROXY")
QUIET_ENV = {
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}

SYSTEM_CLI = """\
You are reviewing the scaffold of an LLM agent that plays text games, to raise its progression.
Your working directory holds bundle/ (read-only evidence: summary.md, lineage.md, traces/,
memory/, scaffold/) and candidate/ (your writable copy of the scaffold). Read and grep the
bundle, edit only files under candidate/, and run analyses only as `./sandbox COMMAND` (a
sandbox without network in which bundle/ and candidate/ are read-only). Your last message is
your rationale: the failure you saw, the change you made, and why it should raise progression."""


def is_claude_code(spec: str) -> bool:
    return spec.split(":", 1)[0] == NAME


class ClaudeCodeError(RuntimeError):
    """The CLI cannot be found: the spec names what to install."""


def _binary() -> str:
    configured = os.environ.get(BIN_ENV)
    path = configured or shutil.which("claude")
    if not path or not os.access(path, os.X_OK):
        raise ClaudeCodeError(
            f"--meta-llm {NAME} needs the Claude Code CLI ({configured or 'claude on PATH'} not "
            "found): npm install -g @anthropic-ai/claude-code, or set "
            f"{BIN_ENV} to its path"
        )
    return path


class ClaudeCodeReviewer:
    """The reviewer for `claude-code[:MODEL]`; `session()` gives one attempt's runs."""

    def __init__(self, spec: str = NAME, *, unsafe_no_sandbox: bool = False):
        _, _, model = spec.partition(":")
        self.model = model or None
        self.name = spec
        self.unsafe_no_sandbox = unsafe_no_sandbox
        self.binary = _binary()

    @staticmethod
    def resumable(review_dir: Path) -> bool:
        path = review_dir / SESSION
        return path.exists() and bool(json.loads(path.read_text()).get("session_id"))

    def session(
        self,
        *,
        work: Path,
        candidate: Path,
        bundle_dir: Path,
        review_dir: Path,
        settings: Any,
        on_turn: Callable[[SessionTurn], None] | None = None,
    ) -> ClaudeCodeSession:
        return ClaudeCodeSession(
            self,
            work=work,
            candidate=candidate,
            bundle_dir=bundle_dir,
            review_dir=review_dir,
            max_turns=settings.turns,
            wall_s=settings.wall_s,
            on_turn=on_turn,
        )


def _fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return out


class ClaudeCodeSession:
    """One attempt's CLI runs in one workspace: `run(task)`, then `resume(message)` (repairs,
    or a continuation after `restore(earlier_review_dir)`)."""

    def __init__(
        self,
        reviewer: ClaudeCodeReviewer,
        *,
        work: Path,
        candidate: Path,
        bundle_dir: Path,
        review_dir: Path,
        max_turns: int,
        wall_s: float,
        on_turn: Callable[[SessionTurn], None] | None,
    ):
        self.reviewer = reviewer
        self.work = work
        self.candidate = candidate
        self.review_dir = review_dir
        self.max_turns = max_turns
        self.wall_s = wall_s
        self.on_turn = on_turn
        self.escapes: list[str] = []
        self.turns: list[SessionTurn] = []
        self.session_id: str | None = None
        self.home = review_dir / HOME
        self.home.mkdir(parents=True, exist_ok=True)
        self.bundle = work / "bundle"
        if self.bundle.exists():
            shutil.rmtree(self.bundle)
        shutil.copytree(bundle_dir, self.bundle, ignore=shutil.ignore_patterns("__pycache__"))
        self.scratch = work / "scratch"
        self.scratch.mkdir(exist_ok=True)
        self._write_sandbox()
        self._bundle_print = _fingerprint(self.bundle)
        self.wall_used = 0.0
        self.rationale: str | None = None
        self.error: str | None = None
        self.end_reason = "max_turns"
        self._base_calls = 0

    # ----------------------------------------------------------------- workspace
    def _write_sandbox(self) -> None:
        """`./sandbox COMMAND`: the only shell the CLI may use, in bubblewrap."""
        script = self.work / "sandbox"
        spec = {
            "scratch": str(self.scratch),
            "workspace": str(self.work),
            "read_only": [str(self.bundle), str(self.candidate)],
            "unsafe": self.reviewer.unsafe_no_sandbox,
            # this process's import path, so the wrapper runs the same code whatever its env
            "sys_path": [p for p in sys.path if p and os.path.isabs(p)],
        }
        script.write_text(
            f"#!{sys.executable}\n"
            "import json, sys\n"
            f"sys.path[:0] = json.loads({json.dumps(json.dumps(spec['sys_path']))})\n"
            "from automem_scaffold._claude_code import sandbox_main\n"
            f"sys.exit(sandbox_main(json.loads({json.dumps(json.dumps(spec))}), sys.argv[1:]))\n",
            encoding="utf-8",
        )
        script.chmod(0o755)

    def restore(self, earlier_review_dir: Path) -> None:
        """Continues the CLI session of an earlier attempt (its session files come along)."""
        session = json.loads((earlier_review_dir / SESSION).read_text())
        self.session_id = session["session_id"]
        earlier_home = earlier_review_dir / HOME
        if earlier_home.exists():
            shutil.rmtree(self.home)
            shutil.copytree(earlier_home, self.home, symlinks=True)
        self._base_calls = len(self._all_calls())  # the earlier attempt's calls are its own

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in PASSED_ENV}
        env.update({k: v for k, v in os.environ.items() if k.startswith(PASSED_PREFIXES)})
        env.update(QUIET_ENV)
        env["HOME"] = str(self.home)
        env["CLAUDE_CONFIG_DIR"] = str(self.home / ".claude")
        return env

    def argv(self, prompt: str) -> list[str]:
        argv = [self.reviewer.binary, "-p", prompt, "--output-format", "json"]
        argv += ["--max-turns", str(max(1, self.max_turns))]
        if self.reviewer.model:
            argv += ["--model", self.reviewer.model]
        argv += ["--append-system-prompt", SYSTEM_CLI, "--tools", TOOLS]
        argv += ["--allowedTools", ALLOWED, "--disallowedTools", DISALLOWED]
        argv += ["--permission-mode", "dontAsk", "--strict-mcp-config"]
        if self.session_id:
            argv += ["--resume", self.session_id]
        return argv

    # ----------------------------------------------------------------- runs
    async def run(self, task: str) -> SessionTranscript:
        return await self._invoke(task)

    async def resume(self, message: str) -> SessionTranscript:
        return await self._invoke(message)

    async def _invoke(self, prompt: str) -> SessionTranscript:
        start = time.perf_counter()
        left = max(1.0, self.wall_s - self.wall_used)
        proc = await asyncio.create_subprocess_exec(
            *self.argv(prompt),
            cwd=self.work,
            env=self._env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        timed_out = False
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=left)
        except TimeoutError:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = await proc.communicate()
        elapsed = time.perf_counter() - start
        self.wall_used += elapsed
        result = _last_result(out.decode("utf-8", "replace"))
        self._account(result, proc.returncode, err.decode("utf-8", "replace"), timed_out)
        calls = self._calls()
        for call in calls:  # a write aimed outside candidate/, refused or not, is an escape
            target = str(call.input.get("file_path") or call.input.get("notebook_path") or "")
            outside = call.name in WRITE_TOOLS and target and not self._in_candidate(target)
            if outside and target not in self.escapes:
                self.escapes.append(target)
        turn = SessionTurn(
            index=len(self.turns),
            response=str(result.get("result", "")) if result else "",
            calls=calls,
            note=self.error,
            input_tokens=_usage(result, "input_tokens")
            + _usage(result, "cache_creation_input_tokens")
            + _usage(result, "cache_read_input_tokens"),
            output_tokens=_usage(result, "output_tokens"),
            cache_read_tokens=_usage(result, "cache_read_input_tokens"),
            cache_write_tokens=_usage(result, "cache_creation_input_tokens"),
            dollars=float(result["total_cost_usd"])
            if result and result.get("total_cost_usd") is not None
            else None,
            latency_s=elapsed,
        )
        self.turns.append(turn)
        if self.on_turn is not None:
            self.on_turn(turn)
        write_json_atomic(self.review_dir / SESSION, {"session_id": self.session_id})
        write_text_atomic(self.review_dir / "cli-transcript.md", self.transcript_markdown())
        if _fingerprint(self.bundle) != self._bundle_print:
            self.escapes.append("bundle/ (files changed)")
        return self.transcript()

    def _in_candidate(self, target: str) -> bool:
        path = Path(os.path.normpath(self.work / target))  # an absolute target stays itself
        root = Path(os.path.normpath(self.candidate))
        return path == root or root in path.parents

    def _account(
        self, result: dict[str, Any] | None, code: int | None, stderr: str, timed_out: bool
    ) -> None:
        self.error = None
        if result and result.get("session_id"):
            self.session_id = str(result["session_id"])
        if timed_out:
            self.end_reason, self.error = "max_wall", f"killed after the {self.wall_s:g} s wall"
        elif result is None:
            self.end_reason = "model_error"
            self.error = f"the CLI exited {code} without a JSON result: {_scrub(stderr)[-600:]}"
        else:
            subtype = str(result.get("subtype", ""))
            if subtype == "success" and not result.get("is_error"):
                self.end_reason = "finish"
                self.rationale = str(result.get("result") or "").strip() or None
            elif subtype == "error_max_turns":
                self.end_reason = "max_turns"
            else:
                self.end_reason = "model_error"
                self.error = (
                    f"the CLI reported {subtype or 'an error'} (exit {code}): "
                    + _scrub(str(result.get("result") or stderr))[-600:]
                )
            for denial in result.get("permission_denials") or []:
                tool = str(denial.get("tool_name", ""))
                target = (denial.get("tool_input") or {}).get("file_path", "")
                if tool in WRITE_TOOLS and str(target) not in self.escapes:
                    self.escapes.append(str(target))

    def transcript(self) -> SessionTranscript:
        def total(name: str) -> int:
            return sum(getattr(t, name) for t in self.turns)

        return SessionTranscript(
            model=self.reviewer.name,
            mode="cli",
            turns=list(self.turns),
            end_reason=self.end_reason,  # type: ignore[arg-type]
            rationale=self.rationale,
            input_tokens=total("input_tokens"),
            output_tokens=total("output_tokens"),
            cache_read_tokens=total("cache_read_tokens"),
            cache_write_tokens=total("cache_write_tokens"),
            wall_s=self.wall_used,
            error=self.error,
        )

    # ----------------------------------------------------------------- the CLI's record
    def _session_lines(self) -> list[dict[str, Any]]:
        if not self.session_id:
            return []
        out = []
        for path in (self.home / ".claude" / "projects").glob(f"*/{self.session_id}.jsonl"):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if entry.get("type") in ("user", "assistant"):
                        out.append(entry)
        return out

    def _calls(self) -> list[CallRecord]:
        """The tool calls that this run added to the session."""
        seen = self._base_calls + sum(len(t.calls) for t in self.turns)
        return self._all_calls()[seen:]

    def _all_calls(self) -> list[CallRecord]:
        calls = []
        results: dict[str, tuple[str, bool]] = {}
        for entry in self._session_lines():
            for block in _blocks(entry):
                if block.get("type") == "tool_result":
                    results[str(block.get("tool_use_id"))] = (
                        _text(block.get("content")),
                        bool(block.get("is_error")),
                    )
        for entry in self._session_lines():
            for block in _blocks(entry):
                if block.get("type") == "tool_use":
                    text, is_error = results.get(str(block.get("id")), ("", False))
                    calls.append(
                        CallRecord(
                            name=str(block.get("name")),
                            input=dict(block.get("input") or {}),
                            result=text[:2000],
                            is_error=is_error,
                        )
                    )
        return calls

    def transcript_markdown(self) -> str:
        """The CLI session as text: each message, tool call and (cut) tool result."""
        lines = []
        for entry in self._session_lines():
            role = entry["type"]
            for block in _blocks(entry):
                kind = block.get("type")
                if kind == "text" and block.get("text", "").strip():
                    lines += [f"**{role}:**", "", block["text"].strip(), ""]
                elif kind == "tool_use":
                    args = json.dumps(block.get("input"), ensure_ascii=False)
                    lines.append(f"- tool `{block.get('name')}` {args[:300]}")
                elif kind == "tool_result":
                    text = _text(block.get("content")).strip().replace("\n", " ")
                    flag = " (error)" if block.get("is_error") else ""
                    lines.append(f"  - result{flag}: {text[:300]}")
        for t in self.turns:
            if t.note:
                lines.append(f"- run {t.index}: {t.note}")
        return "\n".join(lines) + "\n"


def _blocks(entry: dict[str, Any]) -> list[dict[str, Any]]:
    content = (entry.get("message") or {}).get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return ""


def _last_result(stdout: str) -> dict[str, Any] | None:
    """The CLI's result object: the whole output, or its last JSON line of type result."""
    with contextlib.suppress(ValueError):
        data = json.loads(stdout)
        if isinstance(data, dict) and data.get("type") == "result":
            return data
        if isinstance(data, list):  # some versions print the whole message list
            results = [d for d in data if isinstance(d, dict) and d.get("type") == "result"]
            return results[-1] if results else None
    for line in reversed(stdout.splitlines()):
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            if isinstance(data, dict) and data.get("type") == "result":
                return data
    return None


def _usage(result: dict[str, Any] | None, key: str) -> int:
    if not result:
        return 0
    return int((result.get("usage") or {}).get(key) or 0)


def _scrub(text: str) -> str:
    """Drops lines that could carry a credential (the CLI echoes its environment on errors)."""
    return "\n".join(
        "[line withheld: it names a credential]" if SECRET_PATTERN.search(line) else line
        for line in text.splitlines()
    )


# ----------------------------------------------------------------------- ./sandbox
def run_shell(command: list[str], workspace: str) -> dict[str, Any]:
    """Inside the box: runs `command` from the workspace and returns its output."""
    import subprocess

    proc = subprocess.run(command, cwd=workspace, capture_output=True, text=True, check=False)
    return {"code": proc.returncode, "stdout": proc.stdout[-20000:], "stderr": proc.stderr[-8000:]}


def sandbox_main(spec: dict[str, Any], args: list[str]) -> int:
    """`./sandbox COMMAND...` as the CLI's Bash tool calls it."""
    if not args:
        print("usage: ./sandbox COMMAND [ARGS...]", file=sys.stderr)
        return 2
    command = args if len(args) > 1 else ["/bin/sh", "-c", args[0]]
    result = run_sandboxed(
        "automem_scaffold._claude_code:run_shell",
        {"command": command, "workspace": spec["workspace"]},
        cwd=spec["scratch"],
        read_only=[*spec["read_only"], spec["workspace"]],
        sys_path=spec.get("sys_path", []),
        limits=SandboxLimits(wall_s=120.0, unsafe_no_sandbox=bool(spec["unsafe"])),
    )
    if not result.ok:
        print(f"sandbox: {result.error}: {result.message}", file=sys.stderr)
        return 1
    value = result.value or {}
    sys.stdout.write(value.get("stdout", ""))
    sys.stderr.write(value.get("stderr", ""))
    return int(value.get("code", 1))


def load_reviewer(spec: str, *, unsafe_no_sandbox: bool = False) -> ClaudeCodeReviewer:
    return ClaudeCodeReviewer(spec, unsafe_no_sandbox=unsafe_no_sandbox)
