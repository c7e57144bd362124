"""python scripts/audio_report.py [--iterations 100] [--textures rain clicks ...]: synthesise every
built-in sound with the three models and write docs/audio.md, its figures and its WAV files
(3 s at 16 kHz)."""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

from scatgen.config import project_root  # noqa: E402
from scatgen.synthesis.sounds.report import SOUNDS, audio_report  # noqa: E402

if __name__ == "__main__":
    root = Path(project_root())
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--textures", nargs="+", default=list(SOUNDS))
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--J", type=int, default=10)
    p.add_argument("--Q", type=int, default=8)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--out", type=Path, default=root / "docs")
    args = p.parse_args()
    path = audio_report(args.textures, args.out, root / "logs" / "audio_report", duration=args.duration,
                        sample_rate=args.sample_rate, J=args.J, Q=args.Q, n_samples=args.samples, iterations=args.iterations,
                        restarts=1)
    print(path)
