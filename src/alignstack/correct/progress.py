"""A rich progress bar with ETA for transformers / TRL training (the trainer's own tqdm is off),
showing the latest loss; drawn on stderr so piped stdout stays clean."""

from __future__ import annotations


def ProgressCallback(description: str = "train"):
    """A TrainerCallback (built lazily: transformers is imported only when training)."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        def __init__(self):
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TimeRemainingColumn(),
                                TextColumn("{task.fields[loss]}"), console=Console(stderr=True))
            self.task = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.bar.start()
            self.task = self.bar.add_task(description, total=state.max_steps, loss="")

        def on_step_end(self, args, state, control, **kwargs):
            self.bar.update(self.task, completed=state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and self.task is not None:
                shown = [f"{k} {logs[k]:.3f}" for k in ("loss", "eval_loss") if k in logs]
                if shown:
                    self.bar.update(self.task, loss=" ".join(shown))

        def on_train_end(self, args, state, control, **kwargs):
            self.bar.stop()

    return _Progress()
