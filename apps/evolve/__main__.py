"""Loop 1 entry point (placeholder until automem-scaffold lands): checks the workspace imports."""

import importlib

for name in ("automem_memfs", "automem_envs", "automem_agent", "automem_scaffold", "automem_train"):
    importlib.import_module(name)
    print(f"{name}: ok")
