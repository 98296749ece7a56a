"""llama.cpp (the offline default's engine) against transformers (the baseline), same run.

Both run SmolLM2-135M-Instruct on CPU: llama.cpp on the wheel's Q4_1 GGUF as it is,
transformers on its float32 conversion. The prompt is a real LOG prompt of the `demo` scaffold
on a Crafter observation. Repeats alternate between the engines, and medians are reported.

- prefill: the whole prompt from an empty cache, tokens/s;
- generation: 48 greedy tokens after the prompt, tokens/s (end-of-turn ignored);
- second round: a step's next round (the conversation extended by the reply and a continue
  prompt): llama.cpp evaluates only the new suffix (prefix cache), transformers all of it.

Wall-clock rates are what a user waits for; on a shared machine they also measure the
neighbours, so CPU-time rates (tokens per CPU second of this process) are printed beside them.

    uv run python tools/bench_engines.py [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

GEN_TOKENS = 48


class Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def demo_prompt():
    """A LOG round and its continue round, rendered by the demo scaffold on Crafter seed 42."""
    from automem_agent import ChatMessage, builtin_scaffold, load_scaffold
    from automem_envs import make

    env = make("crafter", seed=42, max_steps=5)
    obs = env.reset()
    scaffold = load_scaffold(builtin_scaffold("demo"), isolated_hooks=False)
    m = scaffold.manifest
    variables = {
        "instructions": env.instructions,
        "actions": ", ".join(env.actions),
        "env_id": "crafter",
        "family": "crafter",
        "step": 0,
        "observation": obs.text,
        "last_action": "(none)",
        "feedback": "The episode has just started.",
        "memory_index": "log.md (2 lines)\nnotes.md (2 lines)\nreference/rules.md\nreference/actions.md",
        "stuck_warning": "",
        "analysis": "",
        "syntax": "<|APPEND|>log.md|text<|END|>  - add a line\n<|DONE|>  - finish",
        "ops": ", ".join(m.log.ops),
        "max_rounds": 2,
        "round": 1,
        "rounds_left": 2,
        "results": "",
        "fallback_action": "noop",
    }
    first = [
        ChatMessage(role="system", content=scaffold.render(m.system_prompt, variables)),
        ChatMessage(role="user", content=scaffold.render(m.log.prompt, variables)),
    ]
    variables["results"] = "[append log.md] ok\nappended 1 line"
    second = [
        *first,
        ChatMessage(role="assistant", content="<|APPEND|>log.md|step 0: grass and a tree<|END|>"),
        ChatMessage(role="user", content=scaffold.render(m.log.continue_prompt, variables)),
    ]
    scaffold.close()
    env.close()
    return first, second


def llamacpp_runs(first, second, threads: int | None):
    from automem_agent import ChatRequest
    from automem_agent.models import load_model

    model = load_model("llamacpp:smollm2", n_threads=threads)
    llama = model._slots[0].llama
    p1 = model.prompt_tokens(ChatRequest(messages=first))
    p2 = model.prompt_tokens(ChatRequest(messages=second))

    def prefill():
        llama.reset()
        with Clock() as c:
            llama.eval(p1)
        return len(p1), c

    def generate():
        llama.reset()
        llama.eval(p1)
        with Clock() as c:
            for _ in range(GEN_TOKENS):
                token = llama.sample(temp=0.0)
                llama.eval([token])
        return GEN_TOKENS, c

    def second_round():
        llama.reset()
        llama.eval(p1)
        shared = 0
        while shared < min(len(p1), len(p2)) and p1[shared] == p2[shared]:
            shared += 1
        with Clock() as c:
            # what Llama.generate does on a prefix hit: drop the unshared tail, eval the rest
            llama._ctx.kv_cache_seq_rm(-1, shared, -1)
            llama.n_tokens = shared
            llama.eval(p2[shared:])
        return len(p2), c

    return len(p1), len(p2), {"prefill": prefill, "generate": generate, "second": second_round}


def transformers_runs(first, second):
    import torch
    from automem_agent.models import LocalModel, smollm2_path

    local = LocalModel(smollm2_path(), device="cpu")
    tok, model = local.tokenizer, local.model

    def ids(messages):
        return tok.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )["input_ids"]

    i1, i2 = ids(first), ids(second)

    def prefill():
        with torch.inference_mode(), Clock() as c:
            model(i1)
        return i1.shape[1], c

    def generate():
        with torch.inference_mode():
            out = model(i1, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            with Clock() as c:
                for _ in range(GEN_TOKENS):
                    out = model(token, past_key_values=past, use_cache=True)
                    past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        return GEN_TOKENS, c

    def second_round():
        with torch.inference_mode(), Clock() as c:
            model(i2)
        return i2.shape[1], c

    return {"prefill": prefill, "generate": generate, "second": second_round}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=None, help="llama.cpp threads (default: all)"
    )
    args = parser.parse_args()
    first, second = demo_prompt()
    n1, n2, ours = llamacpp_runs(first, second, args.threads)
    base = transformers_runs(first, second)
    results: dict[str, dict[str, list[tuple[float, float]]]] = {"ours": {}, "base": {}}
    for _ in range(args.repeats):
        for who, runs in (("base", base), ("ours", ours)):
            for case, fn in runs.items():
                tokens, c = fn()
                results[who].setdefault(case, []).append(
                    (tokens / c.wall, tokens / max(c.cpu, 1e-9))
                )
    names = {
        "prefill": f"prefill, {n1}-token LOG prompt",
        "generate": f"generation, {GEN_TOKENS} tokens",
        "second": f"second round ({n2} tokens, {n1} cached)",
    }
    print(f"threads: llama.cpp {args.threads or os.cpu_count()}, torch {os.cpu_count()}")
    head = f"{'case':<40} {'transformers tok/s':>19} {'llama.cpp tok/s':>16} {'ratio':>7}"
    print(head + f"   {'(per CPU s:':>11} {'transformers':>12} {'llama.cpp':>10} {'ratio)':>7}")
    for case, label in names.items():
        b_wall = statistics.median(w for w, _ in results["base"][case])
        o_wall = statistics.median(w for w, _ in results["ours"][case])
        b_cpu = statistics.median(c for _, c in results["base"][case])
        o_cpu = statistics.median(c for _, c in results["ours"][case])
        print(
            f"{label:<40} {b_wall:>19.1f} {o_wall:>16.1f} {o_wall / b_wall:>6.1f}x"
            f"   {'':>11} {b_cpu:>12.1f} {o_cpu:>10.1f} {o_cpu / b_cpu:>6.1f}x"
        )
    print("second round: prompt tokens of the whole conversation per second of its prefill")


if __name__ == "__main__":
    main()
