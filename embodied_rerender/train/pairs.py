"""Training pairs: a target clip of a recorded wrist camera and k context clips chosen like inference does.

Slot 0 is always the target's source camera (the recorded camera with depth, AgiBot's head) over the same
frames: the source video the generator re-renders and the reference frame of every raymap. Slots 1..k-1 come from the other clips of the episode, i.e. the other
cameras and other time windows, ranked by the frustum co-visibility precomputed at packing time
(Algorithm 1), or drawn uniformly for the random-retrieval ablation.

With LoopAug shards (`train.loops`) a share `loop_ratio` of the samples are loop clips instead: the target
goes head view -> gripper view -> head view and back in time, its holes weighted 0 in the loss; the
contexts are the head clip and the other wrist's clip at the loop's own (palindromic) times.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..io.packed import read_shard, shard_paths


@dataclass
class Batch:
    """One training batch (CPU or device tensors).

    target: `(B, 3, T, h, w)` float in [-1, 1]; target_K `(B, 3, 3)`; target_c2w `(B, T, 4, 4)`.
    context: `(B, k, 3, T, h, w)`; context_K `(B, k, 3, 3)`; context_c2w `(B, k, T, 4, 4)`;
    context_mask: `(B, k)` bool; context_ids: `(B, k, 3)` long (episode, camera index in that episode's shard
    `cameras`, start) of each slot.
    prior: `(B, 4, T, h, w)` warp RGB + coverage in [-1, 1]; clean: `(B, F)` bool clean token-frames;
    weight: `(B, 1, T, h, w)` per-pixel loss weight (1 for recorded targets, 0 in LoopAug holes).
    """

    target: torch.Tensor
    target_K: torch.Tensor
    target_c2w: torch.Tensor
    context: torch.Tensor
    context_K: torch.Tensor
    context_c2w: torch.Tensor
    context_mask: torch.Tensor
    context_ids: torch.Tensor
    prior: torch.Tensor
    clean: torch.Tensor
    weight: torch.Tensor

    def to(self, device) -> "Batch":
        return Batch(*(getattr(self, f).to(device, non_blocking=True) for f in self.__dataclass_fields__))

    def split(self, parts: int, index: int) -> "Batch":
        """The `index`-th of `parts` equal slices along the batch (data-parallel ranks)."""
        n = self.target.shape[0] // parts
        return Batch(*(getattr(self, f)[index * n:(index + 1) * n] for f in self.__dataclass_fields__))


def training_shards(root) -> list:
    """Paths of the training shards under `root` (see :meth:`PairSampler.from_dir`)."""
    import json
    from pathlib import Path

    index = Path(root) / "pack.json"
    episodes = json.loads(index.read_text()).get("episodes") if index.exists() else None
    if isinstance(episodes, dict):  # a `train` pack cache: its training split only
        return [Path(root) / e["shard"] for _, e in sorted(episodes.items()) if e["split"] == "train"]
    return shard_paths(root)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 `(..., h, w, 3)` frames -> float `(..., 3, h, w)` in [-1, 1]."""
    return x.movedim(-1, -3).float() / 127.5 - 1.0


class PairSampler:
    """Samples :class:`Batch`es from packed episode shards.

    retrieval: "covisibility" (top scores, with a small Gumbel jitter so near-ties vary between epochs)
    or "random"; patch_t: frames per token-frame (the clean overlap is one token-frame);
    overlap_prob: share of samples whose first token-frame is given clean (long-video chunk continuation);
    loops: LoopAug shards of the same episodes; loop_ratio: share of samples drawn from them.
    """

    def __init__(self, shards: list[tuple[dict, dict]], k_max: int = 4, retrieval: str = "covisibility",
                 jitter: float = 0.02, patch_t: int = 2, overlap_prob: float = 0.3,
                 loops: list[tuple[dict, dict]] | None = None, loop_ratio: float = 0.0):
        if not shards:
            raise ValueError("no training shards")
        self.episodes = shards
        self.k_max, self.retrieval, self.jitter = k_max, retrieval, jitter
        self.patch_t, self.overlap_prob = patch_t, overlap_prob
        meta = shards[0][1]
        self.clip, self.height, self.width = meta["clip"], meta["height"], meta["width"]
        # Convert once to float (T, C, h, w) in [-1, 1]: per-sample uint8 -> float copies of strided
        # slices made the first GPU run input-bound (5 samples/s; see docs/results.md).
        self.video = []
        for tensors, m in shards:
            v = {c: to_unit(tensors[f"{c}.frames"]).contiguous() for c in m["cameras"]}
            for wr in m["targets"]:
                cov = tensors[f"{wr}.covered"].float()[:, None] / 127.5 - 1.0
                v[f"{wr}.prior"] = torch.cat([to_unit(tensors[f"{wr}.prior"]), cov], dim=1).contiguous()
            self.video.append(v)
        self.device = torch.device("cpu")
        self.loop_ratio = loop_ratio
        self.loops = self._load_loops(loops or [])
        if loop_ratio > 0 and not self.loops:
            raise ValueError("loop_ratio > 0 needs LoopAug shards (train.loops.pack_loops) of the training episodes")

    def _load_loops(self, loops: list[tuple[dict, dict]]) -> list[dict]:
        """Loop samples as float tensors, each tied to its episode's index in `self.episodes`."""
        index = {m["episode"]: e for e, (_, m) in enumerate(self.episodes)}
        out = []
        for tensors, m in loops:
            if m["episode"] not in index:
                raise ValueError(f"LoopAug shard of episode {m['episode']} has no training shard beside it")
            if (m["clip"], m["height"], m["width"]) != (self.clip, self.height, self.width):
                raise ValueError(f"LoopAug shard of episode {m['episode']} holds {m['clip']}x{m['height']}x{m['width']} "
                                 f"clips, the training shards {self.clip}x{self.height}x{self.width}")
            cov = tensors["covered"].float()[:, :, None] / 127.5 - 1.0
            for n in range(len(tensors["frames"])):
                out.append({"episode": index[m["episode"]], "wrist": m["wrists"][int(tensors["wrist"][n])],
                            "keys": torch.as_tensor(m["keys"]), "times": tensors["times"][n],
                            "frames": to_unit(tensors["frames"][n]), "mask": tensors["mask"][n].float(),
                            "prior": torch.cat([to_unit(tensors["prior"][n]), cov[n]], dim=1),
                            "c2w": tensors["c2w"][n], "K": tensors["K"][n]})
        return out

    def to(self, device) -> "PairSampler":
        """Keep the decoded clips on `device` (a GPU assembles batches far faster than a small CPU)."""
        self.device = torch.device(device)
        self.video = [{k: v.to(self.device) for k, v in ep.items()} for ep in self.video]
        self.loops = [{k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in lp.items()}
                      for lp in self.loops]
        return self

    @classmethod
    def from_dir(cls, root, loop_dir=None, **kw) -> "PairSampler":
        """The training shards of `root`: those its `pack.json` lists as training episodes (a `train` pack cache),
        else every `episode_*` shard."""
        loops = [read_shard(p) for p in shard_paths(loop_dir, "loops_")] if loop_dir else None
        return cls([read_shard(p) for p in training_shards(root)], loops=loops, **kw)

    def source_of(self, e: int, target: str) -> str:
        """Context slot 0 of `target` in episode `e`."""
        meta = self.episodes[e][1]
        return meta.get("source_of", {}).get(target, meta["source"])

    def camera_name(self, e: int, index: int) -> str:
        return self.episodes[e][1]["cameras"][index]

    def clip_frames(self, e: int, cam: str, start: int) -> torch.Tensor:
        """`(3, T, h, w)` float clip in [-1, 1]."""
        return self.video[e][cam][start:start + self.clip].transpose(0, 1)

    def _contexts(self, e: int, wrist: str, si: int, k: int, gen: torch.Generator) -> list[tuple[str, int]]:
        tensors, meta = self.episodes[e]
        starts, cams = meta["starts"], meta["cameras"]
        source = self.source_of(e, wrist)
        chosen = [(source, starts[si])]
        cands = [(c, s) for c in cams for s in range(len(starts))
                 if not (c == wrist and s == si) and not (c == source and s == si)]
        if k <= 1 or not cands:
            return chosen
        if self.retrieval == "random":
            order = torch.randperm(len(cands), generator=gen).tolist()
        else:
            row = tensors[f"covis.{wrist}"][si]
            scores = torch.stack([row[cams.index(c) * len(starts) + s] for c, s in cands])
            gumbel = -torch.log(-torch.log(torch.rand(len(cands), generator=gen).clamp(1e-9, 1 - 1e-9)))
            order = torch.argsort(scores + self.jitter * gumbel, descending=True).tolist()
        chosen += [(cands[j][0], starts[cands[j][1]]) for j in order[:k - 1]]
        return chosen

    def batch_for(self, clips: list[tuple[int, str, int]]) -> Batch:
        """k = 1 batches for given (episode, target camera, start) clips: source context, warp prior
        (self-conditioning)."""
        return self._build([(e, cam, start, [(self.source_of(e, cam), start)], False) for e, cam, start in clips])

    def sample(self, batch_size: int, k: int, generator: torch.Generator) -> Batch:
        """A batch whose samples carry `k` contexts (slots k..k_max-1 empty, masked)."""
        k = min(k, self.k_max)
        items = []
        for _ in range(batch_size):
            # Drawn only when LoopAug is on: with loop_ratio 0 the random stream (hence training) is unchanged.
            if self.loop_ratio > 0 and float(torch.rand((), generator=generator)) < self.loop_ratio:
                items.append(int(torch.randint(len(self.loops), (1,), generator=generator)))
                continue
            e = int(torch.randint(len(self.episodes), (1,), generator=generator))
            meta = self.episodes[e][1]
            wrist = meta["targets"][int(torch.randint(len(meta["targets"]), (1,), generator=generator))]
            si = int(torch.randint(len(meta["starts"]), (1,), generator=generator))
            ctx = self._contexts(e, wrist, si, k, generator)
            overlap = float(torch.rand((), generator=generator)) < self.overlap_prob
            items.append((e, wrist, meta["starts"][si], ctx, overlap))
        return self._build(items)

    def _build(self, items) -> Batch:
        T, h, w, K = self.clip, self.height, self.width, self.k_max
        out = {n: [] for n in Batch.__dataclass_fields__}
        for item in items:
            if isinstance(item, int):
                for n, v in self._loop_item(self.loops[item]).items():
                    out[n].append(v)
                continue
            e, wrist, s, ctx, overlap = item
            tensors = self.episodes[e][0]
            out["target"].append(self.clip_frames(e, wrist, s))
            out["target_K"].append(tensors[f"{wrist}.K"])
            out["target_c2w"].append(tensors[f"{wrist}.c2w"][s:s + T])
            out["prior"].append(self.clip_frames(e, f"{wrist}.prior", s))
            empty = torch.zeros(3, T, h, w, device=self.device)
            frames = [self.clip_frames(e, cam, start) for cam, start in ctx] + [empty] * (K - len(ctx))
            Ks = torch.eye(3).repeat(K, 1, 1)
            c2w = torch.eye(4).repeat(K, T, 1, 1)
            ids = torch.full((K, 3), -1, dtype=torch.long)
            for j, (cam, start) in enumerate(ctx):
                Ks[j], c2w[j] = tensors[f"{cam}.K"], tensors[f"{cam}.c2w"][start:start + T]
                ids[j] = torch.tensor([e, self.episodes[e][1]["cameras"].index(cam), start])
            out["context"].append(torch.stack(frames))
            out["context_K"].append(Ks)
            out["context_c2w"].append(c2w)
            out["context_mask"].append(torch.arange(K) < len(ctx))
            out["context_ids"].append(ids)
            clean = torch.zeros(T // self.patch_t, dtype=torch.bool)
            clean[0] = overlap
            out["clean"].append(clean)
            out["weight"].append(torch.ones(1, T, h, w, device=self.device))
        return Batch(**{n: torch.stack(v).to(self.device) for n, v in out.items()})

    def _loop_item(self, lp: dict) -> dict[str, torch.Tensor]:
        """One LoopAug sample: target and prior expanded from distinct keys to the palindrome; contexts: the head
        clip (slot 0) and the other wrist's clip (slot 1, if any) at the loop's times. Context ids are -1, so
        self-conditioning leaves these (non-contiguous) clips recorded."""
        T, h, w, K = self.clip, self.height, self.width, self.k_max
        e, keys, tensors = lp["episode"], lp["keys"], self.episodes[lp["episode"]][0]
        times = lp["times"][keys]
        others = [c for c in self.episodes[e][1]["wrists"] if c != lp["wrist"]]
        ctx = [self.episodes[e][1]["source"]] + others[:1]
        frames = [self.video[e][c][times].transpose(0, 1) for c in ctx]
        frames += [torch.zeros(3, T, h, w, device=self.device)] * (K - len(ctx))
        Ks, c2w = torch.eye(3).repeat(K, 1, 1), torch.eye(4).repeat(K, T, 1, 1)
        for j, c in enumerate(ctx):
            Ks[j], c2w[j] = tensors[f"{c}.K"], tensors[f"{c}.c2w"][times.cpu()]
        return {"target": lp["frames"][keys].transpose(0, 1), "target_K": lp["K"].cpu(),
                "target_c2w": lp["c2w"][keys].cpu(), "context": torch.stack(frames), "context_K": Ks,
                "context_c2w": c2w, "context_mask": torch.arange(K) < len(ctx),
                "context_ids": torch.full((K, 3), -1, dtype=torch.long),
                "prior": lp["prior"][keys].transpose(0, 1), "clean": torch.zeros(T // self.patch_t, dtype=torch.bool),
                "weight": lp["mask"][keys][None]}
