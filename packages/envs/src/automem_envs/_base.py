"""The text-environment contract and the episode bookkeeping every game shares."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Any, Self

import msgspec

from ._actions import ActionVocabulary
from ._errors import EnvError, EpisodeOver
from ._types import EndReason, EpisodeStats, Observation, StepResult


class GameStep(msgspec.Struct, frozen=True, kw_only=True):
    """What a game adapter reports for one executed action (before episode bookkeeping)."""

    observation: Observation
    reward: float
    terminated: bool  # the game itself ended (death, success, ...)
    info: dict[str, Any] = {}


class TextEnv(abc.ABC):
    """A game played through text: `reset()`, then `step(action_text)` until done or truncated.

    Every `reset()` starts the same game again: the game is fixed by (env_id, seed, options).
    Invalid action text never raises; it runs `default_action`, the next observation starts
    with a sentence saying so, and `stats.invalid_actions` counts it. If the game itself
    crashes mid-episode, `step` returns `done=True` and `stats.end_reason == "errored"`.
    """

    family: str  # "crafter", "nethack", ...: a class attribute, or per instance (NleEnv)

    def __init__(
        self,
        env_id: str,
        *,
        seed: int,
        max_steps: int,
        no_progress_steps: int | None,
        observation_format: str = "compact",
        action_set: str = "automem",
    ) -> None:
        self.env_id = env_id
        self.seed = seed
        self.max_steps = max_steps
        self.no_progress_steps = no_progress_steps
        self.observation_format = observation_format
        self.action_set = action_set
        self.stats = EpisodeStats(env_id=env_id, seed=seed)
        self._state = "new"  # new -> running -> ended (-> running after reset) ; closed
        self._stalled = 0
        self._last_clock: int | None = None
        self._limit: EndReason | None = None  # set by `_count_game_step` when a limit is hit
        # BALROG's format: (short-term, long-term) context of the latest observation, whose
        # text is the two joined by a newline (what follows BALROG's "Current Observation:").
        self._balrog_parts: tuple[str, str] | None = None
        self._observation: Observation | None = None

    # --- what each game provides -------------------------------------------------------------
    @property
    @abc.abstractmethod
    def vocabulary(self) -> ActionVocabulary:
        """The game's action names and aliases."""

    @property
    @abc.abstractmethod
    def default_action(self) -> str:
        """The action run in place of an invalid one (BALROG's choice for the game)."""

    @property
    @abc.abstractmethod
    def instructions(self) -> str:
        """The game's rules and goal, written for an LLM."""

    @abc.abstractmethod
    def _reset_game(self) -> Observation:
        """Start the seeded game and return the first observation.

        Every raw game step taken (e.g. continuing a `--More--`) goes through
        `_count_game_step`, as in `_step_game`.
        """

    @abc.abstractmethod
    def _step_game(self, action: str) -> GameStep:
        """Run one resolved action (a vocabulary name or a raw key the game accepts now).

        Call `_count_game_step` after every raw step sent to the game, and stop sending keys
        once it returns True (an episode limit was reached).
        """

    @abc.abstractmethod
    def _progression(self) -> float:
        """BALROG's progression for the current state (the base keeps the episode maximum)."""

    def _update_stats(self, stats: EpisodeStats) -> None:  # noqa: B027 - optional hook
        """Copy game facts (achievements, depth, level) into the live stats."""

    def _observe_state(self, stats: EpisodeStats) -> float:
        """Update the live stats from the game and return the current progression.

        One hook for the step's bookkeeping; games may fold both reads into one.
        """
        self._update_stats(stats)
        return self._progression()

    def _resolve_extra(self, text: str) -> str | None:
        """Actions valid only in the current state (e.g. an item letter answering a prompt)."""
        return None

    def _close_game(self) -> None:  # noqa: B027 - optional hook
        """Release the game's resources."""

    # --- the public face ---------------------------------------------------------------------
    @property
    def actions(self) -> list[str]:
        """The action vocabulary: natural-language names, in the game's own order."""
        return list(self.vocabulary.names)

    @property
    def observation(self) -> Observation | None:
        """The latest observation (None before the first reset)."""
        return self._observation

    def reset(self) -> Observation:
        """Start (or restart) the episode and return the first observation."""
        if self._state == "closed":
            raise EnvError("this env is closed; make a new one")
        self.stats = EpisodeStats(env_id=self.env_id, seed=self.seed)
        self._stalled, self._last_clock, self._limit = 0, None, None
        observation = self._reset_game()
        self._update_stats(self.stats)
        self._state = "running"
        self._observation = observation
        return observation

    def step(self, action: str) -> StepResult:
        """Run `action` (text) and return the outcome; invalid text runs the default action."""
        if not isinstance(action, str):
            raise EnvError(f"action must be a str, got {type(action).__name__}: {action!r}")
        if self._state != "running":
            self._not_running()
        resolved = self.vocabulary.match(action) or self._resolve_extra(action)
        valid = resolved is not None
        executed = resolved if resolved is not None else self.default_action
        stats = self.stats
        try:
            outcome = self._step_game(executed)
        except Exception as error:  # the game crashed: end the episode, keep what we have
            return self._crash(error, valid=valid, executed=executed)
        steps = stats.steps = stats.steps + 1
        reward = outcome.reward
        stats.total_reward += reward
        if not valid:
            stats.invalid_actions += 1
        progression = self._observe_state(stats)
        if progression > stats.progression:
            stats.progression = progression
        truncated = False
        terminated = outcome.terminated
        if terminated:
            stats.end_reason = "done"
        elif self._limit is not None:
            stats.end_reason, truncated = self._limit, True
        elif steps >= self.max_steps:  # never sooner than the game-step count; a safety net
            stats.end_reason, truncated = "max_steps", True
        if stats.end_reason != "running":
            self._state = "ended"
        observation = outcome.observation
        if not valid:
            note = self._invalid_note(action, executed)
            parts = self._balrog_parts
            if parts is not None:  # BALROG puts its note before the long-term context
                text = f"{parts[0]}\n{note}{parts[1]}"
            else:
                text = note + observation.text
            observation = msgspec.structs.replace(observation, text=text)
        self._observation = observation
        return StepResult(
            observation=observation,
            reward=reward,
            done=terminated,
            truncated=truncated,
            progression=stats.progression,
            valid_action=valid,
            action=executed,
            info=outcome.info,
        )

    def close(self) -> None:
        """Release the game; the env cannot be used afterwards. Closing twice is harmless."""
        if self._state != "closed":
            self._state = "closed"
            self._close_game()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.env_id!r} seed={self.seed} steps={self.stats.steps}>"

    # --- internals ---------------------------------------------------------------------------
    def _not_running(self) -> None:
        if self._state == "new":
            raise EnvError("call reset() before step()")
        if self._state == "closed":
            raise EnvError("this env is closed; make a new one")
        raise EpisodeOver(
            f"the episode ended ({self.stats.end_reason}); call reset() to play again"
        )

    def _invalid_note(self, action: str, executed: str) -> str:
        if self.observation_format == "balrog":  # BALROG's own feedback sentence
            return (
                "\n\nYour previous output did not contain a valid action. "
                f"Defaulted to action: {executed}\n\nObservation:\n"
            )
        return f'"{action.strip()[:60]}" is not a valid action, so "{executed}" was done instead.\n'

    def _count_game_step(self, clock: int | None = None) -> bool:
        """Count one raw game step (BALROG's and NLE's unit); True once a limit is reached.

        The rule is NLE's as BALROG runs it (nle 0.9, one abort check per step): the first
        step after a reset only records the turn counter, each later step whose counter equals
        the previous one adds one, and the episode ends when that count reaches the timeout.
        So with a clock that never moves, a timeout of 150 ends the episode on game step 151.
        """
        stats = self.stats
        steps = stats.game_steps = stats.game_steps + 1
        patience = self.no_progress_steps
        if patience is not None and clock is not None:
            if clock == self._last_clock:
                self._stalled += 1
            else:
                self._last_clock, self._stalled = clock, 0
        if self._limit is None:
            if steps >= self.max_steps:
                self._limit = "max_steps"
            elif patience is not None and self._stalled >= patience:
                self._limit = "no_progress"
            else:
                return False
        return True

    def _crash(self, error: Exception, *, valid: bool, executed: str) -> StepResult:
        self.stats.end_reason = "errored"
        self.stats.error = f"{type(error).__name__}: {error}"
        self._state = "ended"
        observation = Observation(text=f"The game stopped with an error: {self.stats.error}")
        self._observation = observation
        return StepResult(
            observation=observation,
            reward=0.0,
            done=True,
            truncated=False,
            progression=self.stats.progression,
            valid_action=valid,
            action=executed,
            info={"error": self.stats.error},
        )
