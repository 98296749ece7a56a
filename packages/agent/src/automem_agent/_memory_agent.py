"""The LOG/PLAN memory agent: every choice comes from the scaffold, the code only runs it.

One step is one conversation: the system prompt, then LOG (memory ops over up to K rounds,
ending with DONE), then PLAN (read-only ops over up to K rounds, ending with one ACTION).

Two-model mode (see `RoleModels`): LOG rounds and PLAN's consultation rounds go to the memory
role. PLAN hands over to the action role, on the same conversation with the commit prompt
appended, as soon as the memory role answers a round with an ACTION or with no memory op, and
at the latest on the last round. The action role's ACTION is the one that runs; an ACTION from
the memory role is only advice. In single-model mode every round goes to the one model, and a
PLAN turn is labelled `action` exactly when it commits the action.

The scaffold's code takes part in every step (see `automem_agent._program`): the agent program
runs its scripted memory upkeep first, then the stateless hooks and the program shape the
prompt variables and notices, the model may call the program's extra read-only ops in either
phase, and the program may reject the committed action and send PLAN back (at most
`[program] max_rejections` times a step).
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

import msgspec
from automem_envs import Observation, StepResult, env_family
from automem_memfs import (
    Action,
    Call,
    Done,
    OpResult,
    ParseError,
    call_grammar,
    op_kind,
    strip_calls,
)

from automem_agent._agent import (
    AgentFactory,
    AgentInfo,
    Decision,
    EpisodeContext,
    RoleModels,
    ask,
    message_dicts,
)
from automem_agent._chat import ChatMessage
from automem_agent._episode_hooks import episode_hooks
from automem_agent._manifest import PhaseSpec
from automem_agent._memory import EpisodeMemory
from automem_agent._program import ActionRecord, EpisodeInfo, StepUpdate, Turn
from automem_agent._scaffold import Scaffold
from automem_agent._syntax import parse, phase_syntax
from automem_agent._trace_records import TRUNCATED_REASONS, HookRecord, LLMTurn, Rejection

UPKEEP_MAX_OPS = 32  # scripted memory ops per step; more are skipped with an event


class _Round:
    """What one model response did: its op results and any control call."""

    def __init__(self) -> None:
        self.results: list[OpResult] = []
        self.errors: list[str] = []  # every model mistake, for the trace
        self.notes: list[str] = []  # the mistakes not already shown as an op result
        self.done = False
        self.action: str | None = None
        self.memory_ops = 0
        self.program_ops: dict[str, int] = {}
        self.empty = False  # the reply held no call at all

    def note(self, message: str) -> None:
        self.errors.append(message)
        self.notes.append(message)


class _Step:
    """One step's working state, shared by its phases: the template variables, the
    conversation, the turns and op counts so far, events, and the hook record."""

    def __init__(
        self,
        variables: dict[str, Any],
        messages: list[ChatMessage],
        events: list[str],
        record: _HookTrace,
    ) -> None:
        self.variables = variables
        self.messages = messages
        self.events = events
        self.record = record
        self.turns: list[LLMTurn] = []
        self.op_counts: dict[str, int] = {}


class MemoryAgent:
    """Plays one episode with a scaffold, a memory directory and one or two models."""

    def __init__(self, ctx: EpisodeContext, scaffold: Scaffold, models: RoleModels):
        self.ctx = ctx
        self.scaffold = scaffold
        self.models = models
        m = scaffold.manifest
        sources = {"instructions": ctx.instructions, "actions": "\n".join(ctx.actions) + "\n"}
        self.memory = EpisodeMemory(
            ctx.memory_dir,
            initial_dir=scaffold.initial_memory_dir(),
            reference={path: sources[src] for path, src in m.memory.reference.items()},
            schema=scaffold.schema,
            limits=scaffold.limits,
        )
        self.info = AgentInfo(
            agent="memory",
            scaffold_name=m.name,
            scaffold_hash=scaffold.content_hash,
            models=models.names(),
            adapters=models.adapters(),
            initial_memory_chars=self.memory.start_chars,
        )
        self._history: deque[Observation] = deque(maxlen=m.observation_history)
        self._same = 0  # consecutive steps with an unchanged observation
        self._last_action = "(none)"
        self._last_proposed = ""
        self._step = 0
        family = env_family(ctx.spec.env_id)
        self._base_vars: dict[str, Any] = {
            "instructions": ctx.instructions,
            "actions": ", ".join(ctx.actions),
            "env_id": ctx.spec.env_id,
            "family": family,
            "fallback_action": m.fallback_action or ctx.default_action,
        }
        info = EpisodeInfo(
            env_id=ctx.spec.env_id,
            seed=ctx.spec.seed,
            max_steps=ctx.spec.max_steps,
            actions=list(ctx.actions),
            default_action=ctx.default_action,
            instructions=ctx.instructions,
        )
        self.hooks = episode_hooks(scaffold.hooks, info, m.observation_history)
        self._program_ops = dict(self.hooks.ops)
        extra = ""
        if self._program_ops:
            extra = "\nThis scaffold's own read-only ops (any phase):\n" + "\n".join(
                self._program_ops.values()
            )
        self._syntax = {
            "log": phase_syntax(m.log.ops, m.syntax, end="done") + extra,
            "plan": phase_syntax(m.plan.ops, m.syntax, end="action") + extra,
        }
        names = "|".join(re.escape(n) for n in sorted(self._program_ops, key=len, reverse=True))
        self._program_call = (
            re.compile(
                r"<\|?\s*(?P<name>" + names + r")\s*\|?>(?P<arg>.*?)"
                r"(?:<\|?\s*END\s*\|?>|(?=<\|)|\Z)",
                re.IGNORECASE | re.DOTALL,
            )
            if names
            else None
        )
        self._previous_turns: list[LLMTurn] = []
        self._memory_replies: set[int] = set()  # this step's memory-role replies (message index)
        self._grammar = m.decoding == "grammar"
        if self._grammar:
            for model in {
                id(models.memory): models.memory,
                id(models.action_model): models.action_model,
            }.values():
                if not getattr(model, "supports_grammar", False):
                    raise ValueError(
                        f"scaffold {m.name!r} asks for decoding = 'grammar', but model "
                        f"{getattr(model, 'name', model)!r} cannot enforce a grammar; use "
                        "llamacpp:<gguf> or an openai:/vLLM endpoint, or decoding = 'free'"
                    )

    async def act(self, observation: Observation, previous: StepResult | None) -> Decision:
        m = self.scaffold.manifest
        events: list[str] = []
        record = _HookTrace()
        hooks = self.hooks
        self._begin_program(observation, previous, record, events)
        stuck = self._stuck_warning(observation, events)
        formatted = hooks.format_observation(observation, self.ctx.spec.env_id, events)
        if formatted != observation.text:
            record.observation = formatted
        record.analysis = hooks.analyze(observation, list(self._history), events)
        variables = dict(self._base_vars)
        variables.update(
            step=self._step,
            observation=formatted,
            last_action=self._last_action,
            feedback=self._feedback(observation, previous),
            stuck_warning=stuck,
            analysis=record.analysis,
            notices="",
            results="",
        )
        out = hooks.observe(self.memory.current(), events)
        if out is not None:
            variables.update(out.variables)
            record.variables = dict(out.variables)
            record.notices = list(out.notices)
            variables["notices"] = "\n".join(out.notices)
            if out.notices and not self.scaffold.uses_notices:
                variables["observation"] = f"{variables['observation']}\n{variables['notices']}"
        self._history.append(observation)
        system = ChatMessage(
            role="system", content=self.scaffold.render(m.system_prompt, variables)
        )
        step = _Step(variables, [system], events, record)
        self._memory_replies = set()

        if self._step > 0 or m.log.at_first_step:
            await self._log_phase(m.log, step)
        action = await self._plan_phase(step)
        fallback = action is None
        if action is None:
            action = m.fallback_action or self.ctx.default_action
            events.append(f"no ACTION within {m.plan.max_rounds} rounds: fallback {action!r}")
        else:
            if action in m.action_aliases:
                events.append(f"alias: {action!r} -> {m.action_aliases[action]!r}")
                action = m.action_aliases[action]
            action = self._repair(action, record, events)
            action = await self._gate(action, step)

        diff, snapshot = self.memory.end_step()
        self._step += 1
        self._last_proposed = action
        self._last_action = action
        self._previous_turns = step.turns
        return Decision(
            action=action,
            turns=step.turns,
            fallback=fallback,
            op_counts=step.op_counts,
            events=events,
            memory_bytes=self.memory.bytes,
            memory_chars=self.memory.chars,
            memory_snapshot=snapshot,
            memory_diff=diff,
            hooks=record.freeze(),
        )

    # --- the scaffold's code --------------------------------------------------------------------
    def _begin_program(
        self,
        observation: Observation,
        previous: StepResult | None,
        record: _HookTrace,
        events: list[str],
    ) -> None:
        """Tells the program what happened and runs its scripted memory upkeep."""
        if not self.hooks.has_program:
            return
        last = None
        if previous is not None:
            last = ActionRecord(
                step=self._step - 1,
                action=self._last_proposed,
                executed=previous.action,
                valid=previous.valid_action,
                reward=previous.reward,
                progression=previous.progression,
                message=observation.message,
            )
        update = StepUpdate(
            step=self._step,
            observation=observation,
            last=last,
            turns=[_turn_view(t) for t in self._previous_turns],
        )
        for text in self.hooks.begin(update, self.memory.current(), events):
            for call in parse(text, self.scaffold.manifest.syntax):
                if isinstance(call, ParseError):
                    events.append(f"agent program upkeep: could not parse a call: {call.message}")
                    continue
                if isinstance(call, Done | Action):
                    continue
                if len(record.upkeep) >= UPKEEP_MAX_OPS:
                    events.append(f"agent program upkeep: more than {UPKEEP_MAX_OPS} ops, skipped")
                    return
                kind = op_kind(call)
                record.upkeep_op_counts[kind] = record.upkeep_op_counts.get(kind, 0) + 1
                result = self.memory.apply(call)
                record.upkeep.append(result)
                if not result.ok:
                    events.append(f"agent program upkeep {kind} failed: {result.text[:200]}")

    def _repair(self, action: str, record: _HookTrace, events: list[str]) -> str:
        repaired = self.hooks.repair_action(action, self.ctx.actions, events)
        if repaired != action:
            record.action_changes.append(f"repair_action: {action!r} -> {repaired!r}")
        return repaired

    async def _gate(self, action: str, step: _Step) -> str:
        """The program's check of the committed action: accept, replace, or reject and ask PLAN
        again with the message (at most `[program] max_rejections` times a step)."""
        m = self.scaffold.manifest
        phase = m.plan
        events, record = step.events, step.record
        sent_back = 0
        while True:
            verdict = self.hooks.check_action(action, events)
            if verdict is None or verdict.ok:
                if verdict is not None and verdict.action and verdict.action != action:
                    record.action_changes.append(f"check_action: {action!r} -> {verdict.action!r}")
                    action = verdict.action
                return action
            record.rejections.append(Rejection(action=action, message=verdict.message))
            if sent_back >= m.program.max_rejections:
                events.append(
                    f"action gate: {sent_back} send-backs used; rejected {action!r} runs anyway"
                )
                return action
            sent_back += 1
            rejected = f"ACTION REJECTED: {verdict.message}"
            step.variables["results"] = rejected
            rounds = phase.max_rounds
            content = self._user(
                phase.commit_prompt, step.variables, "plan", rounds, rounds
            ).content
            if "$results" not in self.scaffold.templates[phase.commit_prompt].template:
                content = f"{rejected}\n\n{content}"
            step.messages.append(ChatMessage(role="user", content=content))
            outcome = await self._turn("plan", "action", rounds + sent_back, phase, step)
            if outcome.action is None:
                action = m.fallback_action or self.ctx.default_action
                events.append(f"no ACTION after the rejection: fallback {action!r}")
            else:
                action = self._repair(outcome.action, record, events)

    def close(self) -> None:
        self.hooks.close()
        self.memory.close()

    # --- phases -------------------------------------------------------------------------------
    async def _log_phase(self, phase: PhaseSpec, step: _Step) -> None:
        rounds = phase.max_rounds
        step.messages.append(self._user(phase.prompt, step.variables, "log", 1, rounds))
        for r in range(1, rounds + 1):
            grammar = self._phase_grammar(phase, "done", commit=False)
            outcome = await self._turn("log", "memory", r, phase, step, grammar)
            if outcome.done:
                return
            if outcome.empty and phase.stop_on_empty:
                step.events.append("LOG reply had no calls: phase ended (stop_on_empty)")
                return
            if r == rounds:
                step.events.append(f"LOG did not say DONE within {rounds} rounds")
                return
            step.variables["results"] = self._results_text(outcome)
            prompt = self._user(phase.continue_prompt, step.variables, "log", r + 1, rounds)
            step.messages.append(prompt)

    async def _plan_phase(self, step: _Step) -> str | None:
        """The committed action text, or None when no ACTION came (the caller falls back)."""
        phase = self.scaffold.manifest.plan
        rounds = phase.max_rounds
        two_model = self.models.two_model
        handover = False
        step.messages.append(self._user(phase.prompt, step.variables, "plan", 1, rounds))
        for r in range(1, rounds + 1):
            last = r == rounds
            role = "action" if (not two_model or handover or last) else "memory"
            # The commit round (the last, or the action role's after a handover) may only act.
            grammar = self._phase_grammar(phase, "action", commit=last or handover)
            outcome = await self._turn("plan", role, r, phase, step, grammar)
            if not two_model and outcome.action is None:
                step.turns[-1] = _relabel(step.turns[-1], "memory")
            if outcome.action is not None and role == "action":
                return outcome.action
            if outcome.empty and phase.stop_on_empty:
                step.events.append("PLAN reply had no calls: phase ended (stop_on_empty)")
                return None
            if last:
                return None
            if two_model and (outcome.action is not None or outcome.memory_ops == 0):
                handover = True
            step.variables["results"] = self._results_text(outcome)
            template = phase.commit_prompt if handover or r + 1 == rounds else phase.continue_prompt
            step.messages.append(self._user(template, step.variables, "plan", r + 1, rounds))
        return None

    async def _turn(
        self,
        phase_name: str,
        role: str,
        round_no: int,
        phase: PhaseSpec,
        step: _Step,
        grammar: str | None = None,
    ) -> _Round:
        """Asks the model for one round, runs its calls, and adds its reply to the step's
        conversation and its turn to the step's turns."""
        messages, events = step.messages, step.events
        response, request = await ask(
            self.models,
            role,
            self._shown_to(role, messages),
            max_tokens=phase.max_tokens,
            temperature=self.scaffold.manifest.temperature,
            purpose=role,
            stop=phase.stop,
            grammar=grammar,
        )
        text, program_calls = self._split_program_calls(response.text)
        calls = parse(text, self.scaffold.manifest.syntax)
        calls, more = self._json_program_calls(calls)
        outcome = self._execute(phase_name, phase, calls, step.op_counts)
        for name, argument in program_calls + more:
            self._program_op(name, argument, outcome, events, step.record)
        messages.append(ChatMessage(role="assistant", content=response.text))
        if role == "memory":
            self._memory_replies.add(len(messages) - 1)
        truncated = response.finish_reason in TRUNCATED_REASONS
        if truncated:
            events.append(
                f"{phase_name} round {round_no} ({role}): reply cut at max_tokens "
                f"({phase.max_tokens}), finish_reason {response.finish_reason!r}"
            )
        turn = LLMTurn(
            phase=phase_name,
            role=role,
            round=round_no,
            messages=message_dicts(request.messages),
            response=response.text,
            calls=calls,
            results=outcome.results,
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            latency_s=response.latency_s,
            error="; ".join(outcome.errors) or None,
            model=response.model,
            adapter=request.adapter,
            finish_reason=response.finish_reason,
            constrained=grammar is not None,
            truncated=truncated,
        )
        step.turns.append(turn)
        return outcome

    def _shown_to(self, role: str, messages: list[ChatMessage]) -> list[ChatMessage]:
        """The conversation as `role` sees it: with `[plan] hide_memory_actions`, the action
        role of a two-model pair gets the memory role's replies without their ACTION calls."""
        plan = self.scaffold.manifest.plan
        if role != "action" or not self.models.two_model or not plan.hide_memory_actions:
            return messages
        syntax = self.scaffold.manifest.syntax
        shown = list(messages)
        for i in self._memory_replies:
            text = shown[i].content
            stripped = strip_calls(text, ["action"], syntax)
            if stripped != text:
                # Some APIs refuse an empty assistant message: a reply that held only an
                # ACTION leaves a marker.
                content = stripped.strip() or "(ACTION removed)"
                shown[i] = msgspec.structs.replace(shown[i], content=content)
        return shown

    def _phase_grammar(self, phase: PhaseSpec, end: str, *, commit: bool) -> str | None:
        """The grammar for this round's reply, or None under free decoding."""
        if not self._grammar:
            return None
        m = self.scaffold.manifest
        files, writable = self.memory.paths()
        return call_grammar(
            ops=[] if commit else phase.ops,
            end=end,  # type: ignore[arg-type]
            files=files,
            writable=writable,
            actions=self.ctx.actions,
            min_calls=0 if commit else phase.min_calls,
            max_calls=0 if commit else min(phase.max_calls_per_round, phase.grammar_max_calls),
            text_chars=m.grammar_text_chars,
        )

    def _split_program_calls(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """The reply without the program's op calls (pipe syntax), and those calls."""
        if self._program_call is None:
            return text, []
        found = [(m["name"].upper(), m["arg"].strip()) for m in self._program_call.finditer(text)]
        return (self._program_call.sub(" ", text) if found else text), found

    def _json_program_calls(self, calls: list[Call]) -> tuple[list[Call], list[tuple[str, str]]]:
        """Program op calls that the JSON syntax reported as unknown tools."""
        if not self._program_ops or self.scaffold.manifest.syntax != "json":
            return calls, []
        kept: list[Call] = []
        found: list[tuple[str, str]] = []
        for call in calls:
            obj: Any = None
            if isinstance(call, ParseError):
                try:
                    obj = json.loads(call.raw)
                except (ValueError, TypeError):
                    obj = None
            if isinstance(obj, dict):
                name = str(obj.get("op") or obj.get("tool") or "").upper()
                if name in self._program_ops:
                    found.append((name, str(obj.get("argument", obj.get("arg", "")))))
                    continue
            kept.append(call)
        return kept, found

    def _program_op(
        self, name: str, argument: str, outcome: _Round, events: list[str], record: _HookTrace
    ) -> None:
        text = self.hooks.op(name, argument, events)
        outcome.memory_ops += 1
        outcome.program_ops[name] = outcome.program_ops.get(name, 0) + 1
        record.program_op_counts[name] = record.program_op_counts.get(name, 0) + 1
        if text is None:
            msg = f"{name} failed inside the scaffold's program"
            outcome.errors.append(msg)
            outcome.results.append(_error_result(name, msg, "program_error"))
        else:
            outcome.results.append(OpResult(op=name, ok=True, text=text))

    def _execute(
        self, phase_name: str, phase: PhaseSpec, calls: list[Call], op_counts: dict[str, int]
    ) -> _Round:
        out = _Round()
        allowed = set(phase.ops)
        if not calls:
            out.empty = True
            out.note("no calls found in your reply; follow the syntax shown")
        executed = 0
        for call in calls:
            if isinstance(call, ParseError):
                out.errors.append(f"could not parse a call: {call.message}")
                out.results.append(_error_result("parse_error", call.message, "parse"))
            elif isinstance(call, Done):
                if phase_name == "log":
                    out.done = True
                else:
                    out.note("DONE ends LOG; in PLAN commit an ACTION instead")
            elif isinstance(call, Action):
                if phase_name != "plan":
                    out.note("ACTION is not allowed in LOG (ignored); end LOG with DONE")
                elif out.action is None:
                    out.action = call.text.strip()
                else:
                    out.note("only one ACTION per step; the first one counts")
            else:
                kind = op_kind(call)
                if kind not in allowed:
                    msg = f"{kind} is not allowed in {phase_name.upper()} (allowed: {', '.join(phase.ops)})"
                    out.errors.append(msg)
                    out.results.append(_error_result(kind, msg, "not_allowed"))
                    continue
                if executed >= phase.max_calls_per_round:
                    msg = f"too many calls in one reply (max {phase.max_calls_per_round}); {kind} skipped"
                    out.errors.append(msg)
                    out.results.append(_error_result(kind, msg, "too_many_calls"))
                    continue
                executed += 1
                out.memory_ops += 1
                op_counts[kind] = op_counts.get(kind, 0) + 1
                out.results.append(self.memory.apply(call))
        return out

    # --- prompt pieces ------------------------------------------------------------------------
    def _user(
        self,
        template: str,
        variables: dict[str, Any],
        phase_name: str,
        round_no: int,
        rounds: int,
    ) -> ChatMessage:
        spec = self.scaffold.manifest.log if phase_name == "log" else self.scaffold.manifest.plan
        variables.update(
            memory_index=self.memory.index(),
            syntax=self._syntax[phase_name],
            ops=", ".join(spec.ops),
            max_rounds=rounds,
            round=round_no,
            rounds_left=rounds - round_no + 1,
        )
        return ChatMessage(role="user", content=self.scaffold.render(template, variables))

    def _results_text(self, outcome: _Round) -> str:
        limit = self.scaffold.manifest.result_chars
        lines = [f"ERROR: {e}" for e in outcome.notes]
        for res in outcome.results:
            head = f"[{res.op}{' ' + res.path if res.path else ''}] {'ok' if res.ok else 'ERROR'}"
            lines.append(f"{head}\n{res.text}" if res.text else head)
        text = "\n".join(lines) or "(no results)"
        return text if len(text) <= limit else text[:limit] + "\n...(cut)"

    def _feedback(self, obs: Observation, previous: StepResult | None) -> str:
        parts = []
        if previous is None:
            parts.append("The episode has just started.")
        elif not previous.valid_action:
            parts.append(
                f'"{self._last_proposed}" was not a valid action; "{previous.action}" ran instead.'
            )
        if obs.message:
            parts.append(obs.message.strip())
        if previous is not None and previous.reward:
            parts.append(f"Reward {previous.reward:+g}.")
        if obs.position is not None:
            parts.append(f"You are at {obs.position}.")
        return " ".join(parts) or "Nothing notable."

    def _stuck_warning(self, obs: Observation, events: list[str]) -> str:
        stuck = self.scaffold.manifest.stuck
        if self._history and self._history[-1].text == obs.text:
            self._same += 1
        else:
            self._same = 0
        steps = self._same + 1
        if steps < stuck.window:
            return ""
        events.append(f"stuck: observation unchanged for {steps} steps")
        return self.scaffold.render("<stuck>", {"steps": steps})


class _HookTrace:
    """This step's `HookRecord`, built up as the step runs."""

    def __init__(self) -> None:
        self.observation: str | None = None
        self.analysis = ""
        self.variables: dict[str, str] = {}
        self.notices: list[str] = []
        self.rejections: list[Rejection] = []
        self.action_changes: list[str] = []
        self.upkeep: list[OpResult] = []
        self.upkeep_op_counts: dict[str, int] = {}
        self.program_op_counts: dict[str, int] = {}

    def freeze(self) -> HookRecord | None:
        record = HookRecord(
            observation=self.observation,
            analysis=self.analysis,
            variables=self.variables,
            notices=self.notices,
            rejections=self.rejections,
            action_changes=self.action_changes,
            upkeep=self.upkeep,
            upkeep_op_counts=self.upkeep_op_counts,
            program_op_counts=self.program_op_counts,
        )
        return None if record == _EMPTY_RECORD else record


_EMPTY_RECORD = HookRecord()


def _turn_view(turn: LLMTurn) -> Turn:
    results = [
        f"[{r.op}{' ' + r.path if r.path else ''}] {'ok' if r.ok else 'ERROR'}\n{r.text}"
        for r in turn.results
    ]
    return Turn(
        phase=turn.phase,
        role=turn.role,
        round=turn.round,
        response=turn.response,
        results=results,
        error=turn.error,
    )


def _relabel(turn: LLMTurn, role: str) -> LLMTurn:
    return msgspec.structs.replace(turn, role=role)


def _error_result(op: str, text: str, error: str) -> OpResult:
    return OpResult(op=op, ok=False, text=text, error=error)


def memory_agent_factory(scaffold: Scaffold, models: RoleModels) -> AgentFactory:
    """An agent factory for `run_suite`: one `MemoryAgent` per episode, sharing the models."""

    def factory(ctx: EpisodeContext) -> MemoryAgent:
        return MemoryAgent(ctx, scaffold, models)

    return factory
