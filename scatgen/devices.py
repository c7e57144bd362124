"""Where work runs, decided in one place: the device of a stage and the CPU's training precision.

``cpu_precision()`` measures, once per machine, whether bf16 autocast actually speeds up the
generator's convolutions on this CPU (forward and backward of a small conv stack), instead of
trusting what the CPU advertises: ``bf16-mixed`` when it is at least ``1.3x`` faster than float32,
else ``32-true``.  Measured here: 2.1x on an AMD EPYC with AVX512-BF16 and no AMX (314 against
651 ms per training step of the default generator); Intel CPUs with AMX gain more.  The answer
is cached per CPU model and torch version in ``$XDG_CACHE_HOME/scatgen`` (``~/.cache/scatgen``);
``SCATGEN_CPU_PRECISION=bf16-mixed|32-true`` overrides it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PRECISIONS = ("bf16-mixed", "32-true")
MIN_SPEEDUP = 1.3


def resolve_device(device: str | torch.device | None, accelerator: str | None = "cpu") -> torch.device:
    """``device`` if given (``cpu``, ``cuda``, ``cuda:1``), else the trainer's accelerator:
    ``gpu``/``cuda`` -> ``cuda``, ``auto`` -> ``cuda`` where available, anything else -> ``cpu``."""
    if device not in (None, "", "auto"):
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            from scatgen.errors import ConfigError

            raise ConfigError(f"device={device} was asked for but torch sees no CUDA device; use device=cpu")
        return device
    accelerator = str(accelerator or "cpu")
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _step_seconds(net: torch.nn.Module, x: torch.Tensor, bf16: bool, repeats: int = 3) -> float:
    times = []
    for i in range(repeats + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = net(x)
        y.float().square().mean().backward()
        if i:  # the first call warms up (oneDNN primitive creation)
            times.append(time.perf_counter() - t)
    return min(times)


def measure_bf16_speedup() -> float:
    """float32 time / bf16-autocast time of a conv stack's forward and backward (channels-last,
    as the generator runs)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(*[m for _ in range(3) for m in (torch.nn.Conv2d(64, 64, 3, padding=1),
                                                                torch.nn.BatchNorm2d(64), torch.nn.ReLU())])
    net = net.to(memory_format=torch.channels_last)
    x = torch.randn(16, 64, 32, 32).contiguous(memory_format=torch.channels_last)
    return _step_seconds(net, x, False) / _step_seconds(net, x, True)


@functools.lru_cache(maxsize=1)
def cpu_precision() -> str:
    """``bf16-mixed`` where bf16 autocast is measurably faster on this CPU, else ``32-true``."""
    forced = os.environ.get("SCATGEN_CPU_PRECISION")
    if forced in PRECISIONS:
        return forced
    key = f"{_cpu_name()} | torch {torch.__version__}"
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scatgen" / "cpu_precision.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        try:
            speedup = measure_bf16_speedup()
        except RuntimeError:  # no bf16 kernels at all
            speedup = 0.0
        known[key] = {"speedup": round(speedup, 2), "precision": "bf16-mixed" if speedup >= MIN_SPEEDUP else "32-true"}
        log.info("bf16 autocast is %.2fx float32 on this CPU (%s): training in %s", speedup, key, known[key]["precision"])
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known, indent=2))
        except OSError:
            pass
    return known[key]["precision"]


def bf16_is_fast() -> bool:
    return cpu_precision() == "bf16-mixed"


__all__ = ["resolve_device", "cpu_precision", "bf16_is_fast", "measure_bf16_speedup"]
