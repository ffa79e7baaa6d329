"""What a perturbation does to its samples' evaluation episodes: its episode effect.

A perturbation that only changes the actor's parameters leaves the episode as it is
(``NO_EFFECT``). The others declare it here, as hooks every caller asks instead of
reading flags: the samples' ``EvaluationSetup`` (the engine and the plain-parameter
API), the std of the noise the episode draws, the settings a stored result records
and a re-run must match, and why it cannot apply to a run's env (one line, before
any work):

* ``ActionNoise``: Gaussian noise on every action, of std ``scale`` or a fixed std
  (``td3_action``: 0.1, while ``scale`` sizes its update);
* ``ParameterNoisePerStep``: Gaussian noise of std ``scale`` on every actor weight,
  drawn afresh at every env step;
* ``StartStateNoise``: start states with ``scale`` times the env's training
  start-state noise (the policy is not perturbed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from return_landscapes.evaluation import EvaluationSetup
from return_landscapes.training.families import family_of, has_start_noise

START_NOISE_UNIT = "training"  # init_state's scale: a multiple of the training noise


@dataclasses.dataclass(frozen=True)
class EpisodeEffect:
    """The episode as it is: no noise, the fixed start state.

    Attributes:
      moves_start: the effect perturbs the start state, not the policy (so its
        samples cannot tell two policies' updates apart).
    """

    moves_start: bool = False

    def evaluation(
        self, setup: EvaluationSetup, noisy_start: Callable[[], Any]
    ) -> EvaluationSetup:
        """The samples' evaluation setup, from the plain episodes' ``setup``;
        ``noisy_start()`` builds the env whose starts carry the perturbation's
        start-state noise."""
        del noisy_start
        return setup

    def noise_std(self, scale: float) -> float:
        """The std of the noise the episode draws for a perturbation of ``scale``."""
        del scale
        return 0.0

    def start_noise(self, scale: float) -> float | None:
        """The start-state noise of the samples' env, a multiple of the training
        noise; ``None``: the fixed start state."""
        del scale
        return None

    def settings(self) -> dict[str, Any]:
        """What a stored result records of the effect (a re-run must match)."""
        return {}

    def refusal(self, perturb: str, run_cfg) -> str | None:
        """Why ``perturb=<perturb>`` cannot apply to the run's env, or ``None``."""
        del perturb, run_cfg
        return None


NO_EFFECT = EpisodeEffect()


@dataclasses.dataclass(frozen=True)
class ActionNoise(EpisodeEffect):
    """Gaussian noise on every action (clipped to [-1, 1]) of std ``std``, or of the
    perturbation's ``scale`` when ``std`` is ``None``."""

    std: float | None = None

    def evaluation(self, setup, noisy_start):
        del noisy_start
        return setup._replace(action_noise=True)

    def noise_std(self, scale):
        return scale if self.std is None else self.std

    def settings(self):
        return {} if self.std is None else {"action_noise": self.std}

    def refusal(self, perturb, run_cfg):
        if family_of(run_cfg.env).discrete_actions:
            return (
                f"perturb={perturb} needs continuous actions and {run_cfg.env} has "
                "discrete ones: choose ppo or param_noise"
            )
        return None


@dataclasses.dataclass(frozen=True)
class ParameterNoisePerStep(EpisodeEffect):
    """Gaussian noise of std ``scale`` on every actor weight, redrawn at every step."""

    def evaluation(self, setup, noisy_start):
        del noisy_start
        return setup._replace(param_noise=True)

    def noise_std(self, scale):
        return scale

    def refusal(self, perturb, run_cfg):
        if not family_of(run_cfg.env).per_step_noise:
            return (
                f"perturb={perturb} redraws the weights inside the episode, and "
                f"{run_cfg.env} steps its episodes on the host: choose ppo or "
                "param_noise"
            )
        return None


@dataclasses.dataclass(frozen=True)
class StartStateNoise(EpisodeEffect):
    """Start states with ``scale`` times the env's training start-state noise."""

    moves_start: bool = True

    def evaluation(self, setup, noisy_start):
        return setup._replace(env=noisy_start())

    def start_noise(self, scale):
        return scale

    def settings(self):
        return {"start_noise_unit": START_NOISE_UNIT}

    def refusal(self, perturb, run_cfg):
        if has_start_noise(run_cfg.env):
            return None
        return (
            f"env '{run_cfg.env}' has no start-state noise option, so perturb="
            f"{perturb} cannot apply: choose another perturbation"
        )
