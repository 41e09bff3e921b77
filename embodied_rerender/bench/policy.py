"""A small visuomotor behaviour-cloning policy: one conv encoder with spatial-softmax keypoints per camera
(as in robomimic's visual BC), the proprio state, and an MLP that predicts a chunk of future actions.

Inputs: images camera -> `(B, 3, H, W)` float in [0, 1], state `(B, 20)`, progress `(B,)` = step / horizon (the
scripted task is paced by time: without it, the waiting poses before and after a phase look alike). Output:
`(B, chunk, 22)` actions in normalized units (per-dimension mean / std of the training data, kept in buffers),
except the two gripper entries (14, 15) when `gripper_binary`: there, open / closed logits (a classification
head: regressing the expert's ramp left the command near the grasp threshold, docs/results.md issue 15).
By default the policy sees the head camera only, so its success depends on that view (what the benchmark
measures); the wrist cameras can be added through `cameras`.
Weights: safetensors + JSON config, never pickle.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..io.policy import GRIPPER_ACTION_DIM as ACTION_DIM
from ..io.policy import GRIPPER_STATE_DIM as STATE_DIM


@dataclass
class PolicyConfig:
    cameras: list[str] = field(default_factory=lambda: ["head"])
    width: int = 32  # channels of the first conv layer
    hidden: int = 256
    chunk: int = 8  # actions predicted per inference
    horizon: int = 60  # steps of a demonstration: progress = step / horizon
    # the state entries the policy sees (default all 20). Head + waist only ([16, 17, 18, 19]) avoids copying
    # the arm joints, but underfit in the 2026-12-02 medium run (docs/results.md, issue 15).
    state_dims: list[int] = field(default_factory=lambda: list(range(STATE_DIM)))
    state_dim: int = STATE_DIM
    action_dim: int = ACTION_DIM
    gripper_binary: bool = True  # gripper commands as open / closed logits (BCE), thresholded at 0.5 to run
    # arm joints predicted as targets relative to the current joints (normalized by the deltas' std: finer
    # steps than absolute targets spread over the joint range); the absolute target is state + delta
    delta_joints: bool = False


GRIPPER = slice(14, 16)  # the gripper commands in the 22-d action


class SpatialSoftmax(nn.Module):
    """`(B, C, h, w)` feature maps -> `(B, 2C)` expected (x, y) in [-1, 1] of each channel's softmax."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        prob = torch.softmax(x.flatten(2), dim=-1).view(b, c, h, w)
        ys = torch.linspace(-1, 1, h, device=x.device)
        xs = torch.linspace(-1, 1, w, device=x.device)
        return torch.cat([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], dim=1)


def conv_encoder(width: int) -> nn.Sequential:
    """`(B, 3, H, W)` -> `(B, 4 * width)` keypoints (2 per channel of the last layer)."""
    def block(cin, cout, k, s):
        return [nn.Conv2d(cin, cout, k, s, k // 2), nn.GroupNorm(8, cout), nn.ReLU(inplace=True)]

    return nn.Sequential(*block(3, width, 5, 2), *block(width, 2 * width, 3, 2), *block(2 * width, 2 * width, 3, 1),
                         *block(2 * width, 2 * width, 3, 2), SpatialSoftmax())


class BCPolicy(nn.Module):
    def __init__(self, config: PolicyConfig):
        super().__init__()
        self.config = c = config
        self.encoders = nn.ModuleDict({cam: conv_encoder(c.width) for cam in c.cameras})
        features = len(c.cameras) * 4 * c.width + len(c.state_dims) + 1
        self.mlp = nn.Sequential(nn.Linear(features, c.hidden), nn.ReLU(inplace=True), nn.Linear(c.hidden, c.hidden),
                                 nn.ReLU(inplace=True), nn.Linear(c.hidden, c.chunk * c.action_dim))
        for name, dim in (("state", c.state_dim), ("action", c.action_dim)):
            self.register_buffer(f"{name}_mean", torch.zeros(dim))
            self.register_buffer(f"{name}_std", torch.ones(dim))

    def set_normalization(self, state: torch.Tensor, action: torch.Tensor) -> None:
        """From the training data: state `(N, 20)`, action `(N, 22)`; constant dimensions get std 1."""
        for name, x in (("state", state), ("action", action)):
            std = x.std(0)
            getattr(self, f"{name}_mean").copy_(x.mean(0))
            getattr(self, f"{name}_std").copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, images: dict[str, torch.Tensor], state: torch.Tensor, progress: torch.Tensor) -> torch.Tensor:
        """Normalized action chunk `(B, chunk, 22)`."""
        feats = [self.encoders[cam](images[cam] * 2 - 1) for cam in self.config.cameras]
        feats.append(((state - self.state_mean) / self.state_std)[:, self.config.state_dims])
        feats.append(progress.view(-1, 1).float() * 2 - 1)
        return self.mlp(torch.cat(feats, dim=1)).view(-1, self.config.chunk, self.config.action_dim)

    def relative(self, action: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Actions `(B, chunk, 22)` in the policy's target space: with `delta_joints`, arm joints minus the
        state's `(B, 20)` joints; else unchanged."""
        if not self.config.delta_joints:
            return action
        out = action.clone()
        out[..., :14] -= state[:, None, :14]
        return out

    def normalize_action(self, action: torch.Tensor) -> torch.Tensor:
        return (action - self.action_mean) / self.action_std

    @torch.no_grad()
    def act(self, images: dict[str, "np.ndarray"], state, step: int) -> "np.ndarray":
        """One observation (camera -> `(H, W, 3) uint8`, state `(20,)`) at `step` -> `(chunk, 22)` actions."""
        self.eval()
        x = {cam: torch.from_numpy(images[cam]).permute(2, 0, 1)[None].float() / 255 for cam in self.config.cameras}
        progress = torch.tensor([step / self.config.horizon])
        out = self(x, torch.as_tensor(state, dtype=torch.float32)[None], progress)[0]
        action = out * self.action_std + self.action_mean
        if self.config.delta_joints:
            action[:, :14] += torch.as_tensor(state, dtype=torch.float32)[:14]
        if self.config.gripper_binary:  # closed probabilities: temporal ensembling averages them
            action[:, GRIPPER] = torch.sigmoid(out[:, GRIPPER])
        return action.numpy()

    def command(self, action: "np.ndarray") -> "np.ndarray":
        """The `(22,)` action to run from an (ensembled) `act` row: binary gripper commands 0 / 1 at p = 0.5."""
        action = action.copy()
        if self.config.gripper_binary:
            action[GRIPPER] = (action[GRIPPER] > 0.5).astype(action.dtype)
        return action

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(path))
        path.with_suffix(".json").write_text(json.dumps(asdict(self.config), indent=1))

    @classmethod
    def load(cls, path: Path) -> "BCPolicy":
        from safetensors.torch import load_file

        config = json.loads(Path(path).with_suffix(".json").read_text())
        config.setdefault("gripper_binary", False)  # policies saved before the binary head regressed the gripper
        model = cls(PolicyConfig(**config))
        model.load_state_dict(load_file(str(path)))
        return model
