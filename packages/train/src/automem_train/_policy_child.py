"""Child side of a sandboxed selection policy (runs in the sandbox): a plain script, no package
imports. One file for both scopes of `SelectionPolicy`:

- `score` (scope "example", from _policy.py): loads the policy source, reads examples as JSON
  Lines and returns one float score per example.
- `select` (scope "pool", from _selector.py): loads the selector source, gives `select(pool)` the
  whole pool (candidate memory turns and the episode traces they came from, read-only) and
  returns its picks as [id, reason] pairs.

Records reach the code as dicts that also allow attribute access (`ex.features.wrote`). Every
file it reads was written whole by the parent (`automem_agent.write_jsonl`), so each line is a
complete record.
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
    fn = namespace.get("select")
    if not callable(fn):
        raise TypeError("the policy must define a function select(example) -> bool | float")
    scores = []
    with open(examples_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                value = fn(_wrap(json.loads(line)))
                if value is None:
                    value = 0.0
                if not isinstance(value, bool | int | float):
                    raise TypeError(f"select() returned {type(value).__name__}, not bool or float")
                scores.append(float(value))
    return scores


class Pool:
    """What a selector sees: `candidates` (memory turns, verbatim, with features and the trace
    file they came from), `episodes` (name -> trace path) and `trace(name)` (its JSON records:
    the header, one per step, the summary)."""

    def __init__(self, candidates, episodes):
        self.candidates = candidates
        self.episodes = episodes
        self._cache = {}

    def trace(self, name):
        path = self.episodes.get(name, name)
        if path not in self._cache:
            with open(path, encoding="utf-8") as f:
                self._cache[path] = [_wrap(json.loads(x)) for x in f if x.strip()]
        return self._cache[path]

    def steps(self, name):
        return [r for r in self.trace(name) if "turns" in r]


def select(code_path, candidates_path, episodes):
    namespace = {"__name__": "selector"}
    with open(code_path, encoding="utf-8") as f:
        exec(compile(f.read(), code_path, "exec"), namespace)
    fn = namespace.get("select")
    if not callable(fn):
        raise TypeError("the selector must define select(pool) -> list of (id, reason)")
    with open(candidates_path, encoding="utf-8") as f:
        candidates = [_wrap(json.loads(x)) for x in f if x.strip()]
    picks = []
    for item in fn(Pool(candidates, episodes)) or []:
        if isinstance(item, dict):
            item = (item.get("id"), item.get("reason"))
        example_id, reason = item
        picks.append([str(example_id), str(reason or "")])
    return picks
