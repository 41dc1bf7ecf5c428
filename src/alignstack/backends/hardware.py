"""Pick dtype and threads from the hardware, in this one place: bf16 only where it is native
(emulated bf16 on a CPU without it made TRL ~15x slower here), fp32 otherwise; one torch thread per
core this process may use (ALIGNSTACK_THREADS overrides). ALIGNSTACK_NO_BF16=1 makes a CPU with
native bf16 take the float32 path, so the slow tests and benchmarks exercise what a CPU without it
runs."""

from __future__ import annotations

import functools
import os


def cpu_has_native_bf16() -> bool:
    """Native bf16 on this CPU, unless ALIGNSTACK_NO_BF16 asks for the float32 path."""
    if os.environ.get("ALIGNSTACK_NO_BF16", "").strip() not in ("", "0"):
        return False
    return _cpuinfo_bf16()


@functools.lru_cache(maxsize=1)
def _cpuinfo_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def machine_facts() -> dict:
    """What a timing depends on: the vector instructions torch's CPU kernels use (AVX2, AVX512;
    ATEN_CPU_CAPABILITY can lower them), native bf16 and whether it is used, torch's threads."""
    import torch

    return {"device": best_device(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": _cpuinfo_bf16(), "bf16_used": cpu_has_native_bf16(),
            "threads": torch.get_num_threads()}


def best_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def best_dtype(device: str):
    import torch

    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def resolve_dtype(name: str, device: str):
    import torch

    if name == "auto":
        return best_dtype(device)
    try:
        return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
                "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[name]
    except KeyError:
        from alignstack.core.errors import ConfigError

        raise ConfigError(f"unknown dtype '{name}' (auto, float32, bfloat16, float16)") from None


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def torch_threads() -> int:
    """ALIGNSTACK_THREADS when set (e.g. 1 under a contended CPU), else the usable cores shared
    among the processes a launcher (accelerate, torchrun) started on this machine."""
    raw = os.environ.get("ALIGNSTACK_THREADS", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            from alignstack.core.errors import ConfigError

            raise ConfigError(f"ALIGNSTACK_THREADS must be a positive integer, got {raw!r}")
        return value
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, usable_cores() // max(1, local_processes))


_CONFIGURED: list[int] = []


def configure_torch(threads: int | None = None) -> int:
    """Set torch's intra-op threads: to `threads` when given (a command's --threads), else once
    per process from the hardware; a later implicit call keeps an explicit choice. Returns it."""
    import torch

    if threads is None and _CONFIGURED:
        return _CONFIGURED[-1]
    count = threads or torch_threads()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    _CONFIGURED.append(count)
    return count
