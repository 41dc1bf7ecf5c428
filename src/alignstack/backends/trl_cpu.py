"""TRL's fused LM head on a CPU: score only the positions that carry a label.

TRL 1.16 computes the training loss through a fused, chunked LM head (`trl.trainer.utils`,
`add_fused_lm_head`). Unless the device runs Triton (CUDA, XPU) it scores every position of the
batch and masks the unlabelled ones afterwards, so that compiled backends see fixed tile shapes.
A CPU runs it eagerly and compiles nothing; there, scoring the labelled positions only gives the
same loss for less work. A corrector's rows are mostly prompt (83 % of the demo's positions carry
no label): with it, a step of the demo's corrector took 3.15 s instead of 4.89 s (AVX2, float32),
with the same training and held-out loss to four decimals (bench/corrector_train_speed.py).

Where TRL no longer has the hook this patches, nothing changes: its own choice stands.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def labelled_positions_only() -> Iterator[bool]:
    """Within the block, TRL's fused LM head scores only labelled positions on a CPU too.
    Yields whether the hook was found."""
    try:
        import trl.trainer.utils as trl_utils
    except ImportError:
        yield False
        return
    original = getattr(trl_utils, "_use_triton", None)
    if original is None:
        yield False
        return

    def compact(device) -> bool:
        return device.type == "cpu" or original(device)

    trl_utils._use_triton = compact
    try:
        yield True
    finally:
        trl_utils._use_triton = original
