"""The scaffold manifest (`scaffold.toml`): typed, validated, and the single place choices live."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Rounds = Annotated[int, msgspec.Meta(ge=1, le=50)]
Tokens = Annotated[int, msgspec.Meta(ge=1, le=32768)]

# Every `$name` a prompt template may use, with what it holds. The agent fills all of them for
# every template, so a scaffold can move information between prompts freely; an unknown name is
# a load error. (`scaffold_reference()` prints this table.)
TEMPLATE_VARIABLES: dict[str, str] = {
    "instructions": "the game's own rules text",
    "actions": "the env's action vocabulary, comma separated",
    "env_id": "the env id, e.g. crafter or minihack/MazeWalk-9x9",
    "family": "crafter, minihack or nethack",
    "step": "0-based step number",
    "observation": "the current observation (after format_observation and the program)",
    "last_action": 'the action that ran on the previous step ("(none)" at step 0)',
    "feedback": "what happened after the previous action: validity, reward, message, position",
    "memory_index": "the memory directory's file index",
    "stuck_warning": 'the [stuck] message, or "" when not stuck',
    "analysis": 'the analyze hook\'s output, or ""',
    "notices": 'the agent program\'s notices, one per line, or "" (appended to $observation '
    "when no template of the scaffold uses $notices)",
    "syntax": "how to write calls for this phase's op vocabulary (and the program's ops)",
    "ops": "this phase's op names, comma separated",
    "max_rounds": "rounds this phase may take",
    "round": "1-based round number within the phase",
    "rounds_left": "rounds left in this phase, this one included",
    "results": "the previous round's op results (continue templates), or the rejection "
    "message when the program sends PLAN back",
    "fallback_action": "the action that runs when PLAN commits none",
}


class _Spec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class PhaseSpec(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One phase of a step: which ops it may use, for how many rounds, with which prompts.

    `prompt` opens the phase; `continue_prompt` follows each round with that round's results.
    """

    ops: list[str]
    max_rounds: Rounds = 5
    prompt: str
    continue_prompt: str
    max_tokens: Tokens = 256
    max_calls_per_round: Rounds = 8
    # A reply with no calls at all ends the phase (LOG: as if DONE; PLAN: the fallback runs)
    # instead of asking again; saves rounds on models that drift off the syntax.
    stop_on_empty: bool = False
    stop: list[str] = []  # stop strings sent with each request of this phase (cut the reply)
    # With `decoding = "grammar"`: each reply holds min_calls..max_calls_per_round calls (at
    # most `grammar_max_calls`) before its DONE or ACTION; free decoding ignores min_calls.
    min_calls: Annotated[int, msgspec.Meta(ge=0, le=50)] = 0
    grammar_max_calls: Rounds = 2


class LogPhaseSpec(PhaseSpec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """LOG adds `at_first_step`: false skips LOG at step 0, where no action has happened yet
    and there is nothing to record (the step starts with PLAN)."""

    at_first_step: bool = True


class PlanPhaseSpec(PhaseSpec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """PLAN adds `commit_prompt`: the message that asks for the ACTION, sent when the action
    role takes over in two-model mode and on the last round.

    `hide_memory_actions`: in two-model mode the action role sees the memory role's replies
    with their ACTION calls cut out, so it decides for itself instead of copying the advice."""

    commit_prompt: str
    hide_memory_actions: bool = False


class StuckSpec(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Warn when the observation has been the same for `window` consecutive steps. `message`
    is a template that may use `$steps` (how long it has been unchanged)."""

    window: Annotated[int, msgspec.Meta(ge=2)] = 5
    message: str = "WARNING: nothing has changed for $steps steps. Try a different action."


class MemorySpec(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The memory directory an episode starts with.

    `initial` is a directory of files copied in; `reference` writes env facts into files
    (path -> "instructions" or "actions"); `schema` and `limits` are memfs tables.
    """

    initial: str | None = "memory"
    reference: dict[str, Literal["instructions", "actions"]] = {}
    schema: dict[str, Any] = {}
    limits: dict[str, Any] = {}


class ProgramSpec(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The agent program: the class in the hooks file that is instantiated once per episode
    (absent class = no program), and how often it may send PLAN back per step."""

    class_name: str = "Agent"  # a class of this name in the hooks file is the program
    max_rejections: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2  # send-backs per step


class Manifest(_Spec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`scaffold.toml`. Paths are relative to the scaffold directory."""

    name: str
    description: str = ""
    syntax: Literal["pipe", "json", "tags"] = "pipe"  # "tags" is read as "pipe" (its old name)
    # "grammar": every reply is decoded under a grammar compiled from the syntax, the phase's
    # ops, the memory file names and the env's actions, so it always parses (pipe syntax;
    # needs a backend with grammar support: llamacpp:, openai:/vLLM). "free": unconstrained.
    decoding: Literal["free", "grammar"] = "free"
    grammar_text_chars: Annotated[int, msgspec.Meta(ge=8, le=4000)] = 100  # per text field
    system_prompt: str = "prompts/system.md"
    log: LogPhaseSpec
    plan: PlanPhaseSpec
    fallback_action: str = ""  # "" = the env's default action
    # sampling temperature of every agent request (0 = greedy; the paper's agent samples at 1.0)
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] = 0.0
    # proposed action -> env action, applied before the repair_action hook (e.g. a reviewer
    # mapping an action the model keeps proposing onto the valid one it means)
    action_aliases: dict[str, str] = {}
    stuck: StuckSpec = StuckSpec()
    memory: MemorySpec = MemorySpec()
    hooks: str | None = "hooks.py"  # optional; a missing file is fine when left at the default
    result_chars: Annotated[int, msgspec.Meta(ge=50)] = 1500  # op results longer than this are cut
    observation_history: Annotated[int, msgspec.Meta(ge=1)] = 32  # observations kept for hooks
    program: ProgramSpec = ProgramSpec()  # the episode-scoped agent program in the hooks file

    def __post_init__(self) -> None:
        if self.syntax == "tags":  # scaffolds written before the pipe syntax was named
            msgspec.structs.force_setattr(self, "syntax", "pipe")


def with_sampling(
    manifest: Manifest,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    max_rounds: int | None = None,
) -> Manifest:
    """`manifest` with a protocol's sampling set (None keeps the manifest's value): the
    temperature, and tokens per reply and rounds of both phases."""
    phase = {k: v for k, v in (("max_tokens", max_tokens), ("max_rounds", max_rounds)) if v}
    return msgspec.structs.replace(
        manifest,
        temperature=manifest.temperature if temperature is None else temperature,
        log=msgspec.structs.replace(manifest.log, **phase),
        plan=msgspec.structs.replace(manifest.plan, **phase),
    )
