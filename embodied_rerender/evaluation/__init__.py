"""Evaluation: one scoring loop behind every table.

`runner.run_setting` seeds a memory bank, runs the autoregressive loop and scores each output through
`scoring.score_views`; the tables differ only in what they hand it and how they summarize:
`dataset` (a written dataset), `heldout` (head -> wrist pairs), `shots` (the 12-shot table), `stream` (the
streaming student as a Synthesizer), `validation` (the `train` verb's validation.json). `main.run_eval` is the
`eval` verb (`table=...`, configs/table/<name>.yaml).
"""

from .runner import BankOptions, Run, Setting, run_setting
from .scoring import mean, score_views, sync_inliers

__all__ = ["BankOptions", "Run", "Setting", "run_setting", "mean", "score_views", "sync_inliers"]
