"""Numbers several layers share, written once: horizons, discounts, env prefixes.

Plain Python with no imports, so configs and loaders can use them without JAX.
"""

DEFAULT_HORIZON = 1000
"""Steps of a Brax episode (training truncation and evaluation), as in the paper."""

DEFAULT_GAMMA = 0.99
"""Discount of the discounted returns that evaluations record."""

ATARI_PREFIX = "atari:"
"""``env=atari:<Game>-v5`` names an envpool Atari game."""

MUJOCO_PREFIX = "mujoco:"
"""``env=mujoco:<Task>-v5`` names a Gymnasium MuJoCo task stepped by envpool."""

ATARI_FRAME_SKIP = 4
"""Emulator frames per agent step (envpool's v5 default)."""

ATARI_FRAME_CAP = 108_000
"""Frames of an Atari episode at most (envpool's v5 default, 30 minutes of play)."""

ATARI_EPISODE_STEPS = ATARI_FRAME_CAP // ATARI_FRAME_SKIP
"""Agent steps of an Atari episode at most: 27,000."""

GYM_PREFIX = "gym:"
"""``env=gym:<id>`` names a registered Gymnasium env stepped on the host."""
