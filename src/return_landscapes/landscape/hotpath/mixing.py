"""Points between checkpoints: weighted sums of agent states.

One rule serves paths (two anchors, weights ``(a, 1 - a)``) and planes (three
anchors, or a checkpoint and two directions): every floating-point leaf is
``sum_i w_i * state_i``, added left to right; what cannot be mixed (integer leaves
such as Adam's step count) comes from the nearer anchor. With weights ``(1, 0, ...)``
the mixture is bit for bit the first anchor (``1 * x + 0 * y == x``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def mix(states: tuple, nearer, weights):
    """``weights[0] * states[0] + weights[1] * states[1] + ...`` per float leaf.

    Args:
      states: agent states (or actor parameters) of the same structure.
      nearer: a state of that structure giving every non-float leaf.
      weights: one scalar per state.
    """

    def leaf(*values):
        *anchors, near = values
        if not jnp.issubdtype(anchors[0].dtype, jnp.floating):
            return near
        total = weights[0] * anchors[0]
        for weight, anchor in zip(weights[1:], anchors[1:], strict=True):
            total = total + weight * anchor
        return total

    return jax.tree.map(leaf, *states, nearer)
