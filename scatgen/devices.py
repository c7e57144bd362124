"""Where work runs, decided in one place: the device of a stage and the CPU's training precision.

``cpu_precision()`` measures, once per machine, whether bf16 autocast actually speeds up the
generator's convolutions on this CPU (forward and backward of a small conv stack), instead of
trusting what the CPU advertises: ``bf16-mixed`` when it is at least ``1.3x`` faster than float32,
else ``32-true``.  Measured here: 2.1x on an AMD EPYC with AVX512-BF16 and no AMX (314 against
651 ms per training step of the default generator); Intel CPUs with AMX gain more; an AVX2-only
AMD EPYC (Zen 3, the same model name) measured 0.12x, so it trains in float32.

A busy machine must not flip the answer: float32 and bf16 are timed in alternation, round by
round, and the median of the per-round ratios is used (load slows both sides of a round alike);
a ratio within ``MARGIN`` of the threshold is measured again with more rounds, and if it is still
that close the CPU's own flags decide (``avx512_bf16`` or ``amx_bf16``: bf16).  The answer is
cached per CPU model, vector flags and torch version in ``$XDG_CACHE_HOME/scatgen``
(``~/.cache/scatgen``; a cache that cannot be written is said once);
``SCATGEN_CPU_PRECISION=bf16-mixed|32-true`` overrides it (any other value is refused in one line).
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
MARGIN = 1.15  # a measured speedup in [MIN_SPEEDUP / MARGIN, MIN_SPEEDUP * MARGIN] is too close to call
ENV = "SCATGEN_CPU_PRECISION"


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


# the instruction sets that decide bf16 speed: one CPU model name ("AMD EPYC") covers AVX2-only
# and AVX512-BF16 parts (measured: bf16 autocast 20x slower than float32 on the former)
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_kind() -> str:
    """The CPU's model name and the speed flags it has, as reports name the machine a figure came from
    (``AMD EPYC`` covers kinds of very different speed)."""
    flags = _cpu_flags()
    return f"{_cpu_name()}, {', '.join(flags) if flags else 'no AVX2'}"


def _cpu_flags() -> tuple[str, ...]:
    """The ``SPEED_FLAGS`` this CPU advertises (``/proc/cpuinfo``; none where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    have = set(line.split(":", 1)[-1].split())
    return tuple(f for f in SPEED_FLAGS if f in have)


def _cpu_has_bf16() -> bool:
    return bool({"avx512_bf16", "amx_bf16"} & set(_cpu_flags()))


def _cpu_key() -> str:
    """The precision cache's key: the CPU model, its speed flags and the torch version."""
    return f"{_cpu_name()} | {','.join(_cpu_flags()) or 'no vector flags'} | torch {torch.__version__}"


def _step_seconds(net: torch.nn.Module, x: torch.Tensor, bf16: bool) -> float:
    t = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y = net(x)
    y.float().square().mean().backward()
    return time.perf_counter() - t


def measure_bf16_speedup(rounds: int = 5) -> float:
    """float32 time / bf16-autocast time of a conv stack's forward and backward (channels-last,
    as the generator runs): the median over ``rounds`` of the ratio within a round, each side
    timed right after the other (best of 2)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(*[m for _ in range(3) for m in (torch.nn.Conv2d(64, 64, 3, padding=1),
                                                                torch.nn.BatchNorm2d(64), torch.nn.ReLU())])
    net = net.to(memory_format=torch.channels_last)
    x = torch.randn(16, 64, 32, 32).contiguous(memory_format=torch.channels_last)
    _step_seconds(net, x, False), _step_seconds(net, x, True)  # warm-up (oneDNN primitive creation)
    ratios = []
    for _ in range(rounds):
        fp32 = min(_step_seconds(net, x, False) for _ in range(2))
        bf16 = min(_step_seconds(net, x, True) for _ in range(2))
        ratios.append(fp32 / bf16)
    return sorted(ratios)[len(ratios) // 2]


def choose_precision(speedup: float, cpu_has_bf16: bool, remeasure=None) -> str:
    """``bf16-mixed`` for a speedup clearly at least ``MIN_SPEEDUP``, ``32-true`` clearly below;
    too close to call: ``remeasure()`` once (if given), then the CPU's flags."""
    if speedup >= MIN_SPEEDUP * MARGIN:
        return "bf16-mixed"
    if speedup <= MIN_SPEEDUP / MARGIN:
        return "32-true"
    if remeasure is not None:
        return choose_precision(remeasure(), cpu_has_bf16)
    return "bf16-mixed" if cpu_has_bf16 else "32-true"


def check_precision_override() -> str | None:
    """``$SCATGEN_CPU_PRECISION`` if set (one of ``PRECISIONS``), else ``None``."""
    forced = os.environ.get(ENV)
    if forced in (None, ""):
        return None
    if forced not in PRECISIONS:
        from scatgen.errors import ConfigError

        raise ConfigError(f"{ENV}={forced!r} is not a precision; use {ENV}={' or '.join(PRECISIONS)}, or unset it "
                          "to let scatgen measure")
    return forced


def _cache_file() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scatgen" / "cpu_precision.json"


@functools.lru_cache(maxsize=1)
def cpu_precision() -> str:
    """``bf16-mixed`` where bf16 autocast is measurably faster on this CPU, else ``32-true``."""
    forced = check_precision_override()
    if forced:
        return forced
    key = _cpu_key()
    cache = _cache_file()
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        try:
            speedup = measure_bf16_speedup()
            precision = choose_precision(speedup, _cpu_has_bf16(), lambda: measure_bf16_speedup(rounds=11))
        except RuntimeError:  # no bf16 kernels at all
            speedup, precision = 0.0, "32-true"
        known[key] = {"speedup": round(speedup, 2), "precision": precision}
        log.info("bf16 autocast is %.2fx float32 on this CPU (%s): training in %s", speedup, key, precision)
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known, indent=2))
        except OSError as err:
            log.warning("cannot write the precision cache %s (%s): every run on this machine measures again; set "
                        "XDG_CACHE_HOME to a writable folder, or %s=%s", cache, err.strerror, ENV, precision)
    else:  # every run says why, not only the one that measured
        log.info("training in %s: bf16 autocast was measured at %.2fx float32 on this CPU (%s; cached in %s; %s=... "
                 "forces a precision)", known[key]["precision"], known[key]["speedup"], key, cache, ENV)
    return known[key]["precision"]


def trainer_precision(precision: str | int | None, accelerator: str | None = "cpu") -> str | int | None:
    """The trainer's ``precision`` as Lightning takes it: ``auto`` (``conf/trainer/cpu.yaml``) is
    measured on a CPU (``cpu_precision``, cached per machine) and ``bf16-mixed`` on a GPU; any
    other value as given.  Called where the trainer is built, so composing a config measures nothing."""
    if str(precision) != "auto":
        return precision
    return cpu_precision() if resolve_device(None, accelerator).type == "cpu" else "bf16-mixed"


def bf16_is_fast() -> bool:
    return cpu_precision() == "bf16-mixed"


__all__ = ["resolve_device", "cpu_precision", "trainer_precision", "bf16_is_fast", "measure_bf16_speedup", "choose_precision",
           "check_precision_override"]
