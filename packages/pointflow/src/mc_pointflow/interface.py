"""What `mc pointflow rollout` and `mc pointflow eval` need from a policy: the typed Protocols.

A policy is any model registered for the pointflow commands (``task="pointflow"``) that offers
:class:`Policy`. The built-in ones are the trained ``pointflow-policy`` and three baselines
(``expert``, ``hold``, ``mean-demo``); a third-party plugin registers its own the same way::

    @hookimpl
    def mc_register_models(registry):
        registry.register("my-policy", "my_pkg.policy:MyPolicy", "what it does", task="pointflow")

and ``mc pointflow rollout --policy my-policy`` (or ``--checkpoint`` of a run that trained it)
runs it in the built-in sim. `rollout` builds a policy without a checkpoint from the config
``{"horizon": K}`` (plus ``"buffer": PATH`` when ``--buffer`` is given), by the target's
``from_config(config)`` or ``target(**config)``.

`eval` scores a policy on a demo buffer with the flow loss and the attention of the policy's
point encoder, so it also needs :class:`FlowModel` (``pointflow-policy`` offers both).

This module imports neither torch nor the sim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from mc_pointflow.sim.env import Frame, TabletopEnv

__all__ = ["FlowModel", "Policy"]


@runtime_checkable
class Policy(Protocol):
    """A policy acting on observations of the sim (what `rollout` needs).

    ``act`` is called after ``len(states) - 1`` executed poses of episode `episode` with the env
    (``env.t`` steps done, ``env.state`` the current pose; a scripted baseline may also read the
    scene's plan ``env.expert_states``), the current rendered `frame` (``frame.pcd`` the merged
    (P, 3) cloud, ``frame.segmentation``, ``frame.depth``) and every robot state so far (10-D:
    xyz, 6D rotation, gripper open 1 / closed 0). It returns the poses (k, 10) to execute next;
    the rollout executes at most ``--execute-steps`` of them before it asks again.

    Optional members that `rollout` uses when a policy has them: ``n_points`` (points per
    observation; the cloud must hold at least that many), ``horizon`` (poses per chunk; bounds
    ``--execute-steps``), ``euler_steps`` and ``seed`` (set from ``--steps`` and ``--seed``),
    ``needs_checkpoint`` (True: refuse to build it without ``--checkpoint``).
    """

    name: str

    def act(self, env: TabletopEnv, frame: Frame, states: list[np.ndarray], episode: int) -> np.ndarray:
        """Poses (k, 10) to execute next."""
        ...


@runtime_checkable
class FlowModel(Protocol):
    """A flow-matching policy with an attention point encoder (what `eval` scores)."""

    config: Any  # with horizon, n_obs_steps and action_dim

    def flow_loss_per_item(self, pcd: Any, state: Any, action: Any, noise: Any, t: Any) -> tuple[Any, Any]:
        """(velocity MSE per item (B,), attention logits (B, N)) at flow times t."""
        ...

    def sample(self, pcd: Any, state: Any, *, steps: int = 10, generator: Any = None,
               noise: Any = None) -> tuple[Any, Any]:
        """(action chunks (B, horizon, 10), attention logits (B, N))."""
        ...
