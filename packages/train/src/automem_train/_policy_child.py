"""Child side of a sandboxed selection policy: a plain script, no package imports.

Loads the policy source, reads examples as JSON Lines and returns one float score per example.
Examples reach the policy as dicts that also allow attribute access (`ex.features.wrote`).
Every file it reads was written whole by the parent (`automem_agent.write_jsonl`), so
each line is a complete record.
"""

import json


class _Record(dict):
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _wrap(value):
    if isinstance(value, dict):
        return _Record({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def score(code_path, examples_path):
    namespace = {"__name__": "policy"}
    with open(code_path, encoding="utf-8") as f:
        exec(compile(f.read(), code_path, "exec"), namespace)
    select = namespace.get("select")
    if not callable(select):
        raise TypeError("the policy must define a function select(example) -> bool | float")
    scores = []
    with open(examples_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                value = select(_wrap(json.loads(line)))
                if value is None:
                    value = 0.0
                if not isinstance(value, bool | int | float):
                    raise TypeError(f"select() returned {type(value).__name__}, not bool or float")
                scores.append(float(value))
    return scores
