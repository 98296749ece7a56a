"""Differential test: the memory-tool adapter against the anthropic SDK's reference
implementation (`BetaLocalFilesystemMemoryTool`), the backend users of Claude's memory tool
switch from.

Seeded random sequences of the six commands run against both. After each command both must
accept it or both refuse it, and the two trees (files with their bytes, and directories) must
be equal. The one allowed difference is the adapter refusing a command for a reason its
docstring lists as stricter than the reference (`STRICTER` below); the reference's tree is then
put back as it was, and the sequence goes on. A refused command leaves no directory behind in
the adapter, while the reference's `rename` creates the new parent first; after a command both
refuse, the reference's tree is put back too.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from automem_memfs import AnthropicMemoryAdapter, MemoryStore

sdk = pytest.importorskip(
    "anthropic.tools.memory",
    reason="the anthropic SDK is not installed (memfs's isolated env runs without it)",
)
beta = pytest.importorskip("anthropic.types.beta")

SEQUENCES = 100
STEPS = 24
PATHS = [
    "/memories/a.md",
    "/memories/b.md",
    "/memories/d/c.md",
    "/memories/d/e/f.md",
    "/memories/d",
    "/memories/d/",
    "/memories/./d/c.md",
    "/memories/d//c.md",
    "/memories/d/e",
    "/memories/g/h.md",
    "/memories",
]
# Paths the adapter refuses on purpose (see its docstring); rare in the sequences.
STRICT_PATHS = [
    "/memories/a.md ",  # a trailing space reads like a.md
    "/memories/ a.md",
    "/memories/d/../a.md",  # '..' is refused even when it stays inside
    "/memories/.hidden.md",  # names starting with '.' are reserved
    "/memoriesX/a.md",  # the reference takes any path that starts with /memories
]


def stricter(cmd: dict) -> bool:
    """Whether the adapter may refuse `cmd` where the reference accepts it."""
    paths = [cmd.get(k) for k in ("path", "old_path", "new_path")]
    return any(p in STRICT_PATHS for p in paths if p is not None)


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return ""
    return "".join(rng.choice("ab x\n") for _ in range(rng.randint(1, 12)))


def random_path(rng: random.Random) -> str:
    return rng.choice(STRICT_PATHS) if rng.random() < 0.05 else rng.choice(PATHS)


def random_command(rng: random.Random, files: dict[str, bytes]) -> dict:
    """One command; edits mostly aim at files that exist, so most of them do something."""
    kind = rng.choice(["view", "create", "create", "str_replace", "insert", "delete", "rename"])
    existing = sorted(files)
    if existing and kind != "create" and rng.random() < 0.85:
        path = "/memories/" + rng.choice(existing)
        text = files[path[len("/memories/") :]].decode()
    else:
        path, text = random_path(rng), ""
    if kind == "view":
        cmd = {"command": "view", "path": path}
        if rng.random() < 0.5:
            cmd["view_range"] = [rng.randint(-2, 5), rng.choice([-1, -2, 0, 1, 2, 4, 9])]
        return cmd
    if kind == "create":
        return {"command": "create", "path": path, "file_text": random_text(rng)}
    if kind == "str_replace":
        i = rng.randint(0, len(text))
        old = text[i : i + rng.randint(0, 4)] if rng.random() < 0.8 else random_text(rng)
        return {"command": "str_replace", "path": path, "old_str": old, "new_str": random_text(rng)}
    if kind == "insert":
        return {
            "command": "insert",
            "path": path,
            "insert_line": rng.randint(-1, text.count("\n") + 1),
            "insert_text": random_text(rng),
        }
    if kind == "delete":
        return {"command": "delete", "path": path}
    return {"command": "rename", "old_path": path, "new_path": random_path(rng)}


SDK_TYPES = {
    "view": "BetaMemoryTool20250818ViewCommand",
    "create": "BetaMemoryTool20250818CreateCommand",
    "str_replace": "BetaMemoryTool20250818StrReplaceCommand",
    "insert": "BetaMemoryTool20250818InsertCommand",
    "delete": "BetaMemoryTool20250818DeleteCommand",
    "rename": "BetaMemoryTool20250818RenameCommand",
}


def run_sdk(tool, cmd: dict) -> bool:
    model = getattr(beta, SDK_TYPES[cmd["command"]])(**cmd)
    try:
        tool.execute(model)
    except Exception:  # ToolError, or an OSError the reference lets through: a refusal
        return False
    return True


def tree(root: Path) -> tuple[dict[str, bytes], set[str]]:
    """Files (path -> bytes) and directories under `root`, hidden names left out."""
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath).relative_to(root).as_posix()
        for d in dirnames:
            dirs.add(d if base == "." else f"{base}/{d}")
        for f in filenames:
            if not f.startswith("."):
                rel = f if base == "." else f"{base}/{f}"
                files[rel] = (Path(dirpath) / f).read_bytes()
    return files, dirs


def put_back(root: Path, saved: Path) -> None:
    shutil.rmtree(root)
    shutil.copytree(saved, root)


@pytest.mark.parametrize("block", range(4))
def test_adapter_matches_the_sdk_reference(tmp_path: Path, block: int) -> None:
    commands = accepted = 0
    for seed in range(block * SEQUENCES // 4, (block + 1) * SEQUENCES // 4):
        rng = random.Random(seed)
        base = tmp_path / f"s{seed}"
        ref = sdk.BetaLocalFilesystemMemoryTool(base_path=str(base / "sdk"))
        ref_root = base / "sdk" / "memories"
        ours = AnthropicMemoryAdapter(MemoryStore(base / "ours"))
        history: list[str] = []
        for _ in range(STEPS):
            cmd = random_command(rng, tree(ref_root)[0])
            saved = base / "saved"
            shutil.copytree(ref_root, saved)
            ref_ok = run_sdk(ref, cmd)
            out = ours.execute(cmd)
            our_ok = not out.startswith("Error:")
            history.append(f"{cmd} -> sdk {ref_ok}, ours {out!r}")
            where = f"seed {seed}:\n" + "\n".join(history)
            if ref_ok and not our_ok:
                assert stricter(cmd), where
                put_back(ref_root, saved)
            else:
                assert our_ok == ref_ok, where
                if not ref_ok:
                    put_back(ref_root, saved)  # see the module docstring
            shutil.rmtree(saved)
            assert tree(base / "ours") == tree(ref_root), where
            commands += 1
            accepted += our_ok
        ours.store.close()
    # the sequences exercise both outcomes, not only refusals
    assert 0.3 * commands < accepted < 0.9 * commands
