"""Child side of the sandbox: runs as a plain script (no package imports) so a broken package
cannot stop it from reporting. Reads a JSON spec, calls the target, writes JSON. The limits are
already in place (`_confine.py` starts this file)."""

import asyncio
import importlib
import importlib.util
import inspect
import json
import os
import sys
import traceback


def _write(path, payload):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, default=repr)
    os.replace(tmp, path)


def _load(target):
    module_part, _, func_name = target.rpartition(":")
    if not module_part or not func_name:
        raise ValueError(f"target must be 'module:function' or 'file.py:function', got {target!r}")
    if module_part.endswith(".py"):
        spec = importlib.util.spec_from_file_location("_sandbox_target", module_part)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {module_part}")
        module = importlib.util.module_from_spec(spec)
        sys.modules["_sandbox_target"] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_part)
    return getattr(module, func_name)


async def _await(awaitable):
    # asyncio.run takes only a coroutine; this also runs a Future or other awaitable.
    return await awaitable


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    result_path = spec["result_path"]
    for entry in reversed(spec.get("sys_path", [])):
        sys.path.insert(0, entry)
    try:
        func = _load(spec["target"])
        value = func(**spec.get("kwargs", {}))
        if inspect.isawaitable(value):
            value = asyncio.run(_await(value))
        payload = {"ok": True, "value": value}
    except MemoryError:
        payload = {
            "ok": False,
            "error": "memory",
            "message": "MemoryError: the code exceeded the sandbox memory limit",
            "traceback": traceback.format_exc()[-4000:],
        }
    except BaseException as exc:  # the target's failure is the value we report
        payload = {
            "ok": False,
            "error": "exception",
            "message": f"{type(exc).__name__}: {exc}"[:2000],
            "traceback": traceback.format_exc()[-4000:],
        }
    try:
        _write(result_path, payload)
    except (TypeError, ValueError) as exc:
        _write(result_path, {"ok": False, "error": "bad_result", "message": str(exc)})


if __name__ == "__main__":
    main()
