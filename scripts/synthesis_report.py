"""python scripts/synthesis_report.py [--size 128] [--iterations 100] [--restarts 2]: synthesise every
built-in texture with the three models and write docs/synthesis.md with its figures."""

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from scatgen.synthesis.report import synthesis_report
from scatgen.synthesis.textures import BUILTIN

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--textures", nargs="+", default=list(BUILTIN))
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--J", type=int, default=4)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    args = p.parse_args()
    path = synthesis_report(args.textures, args.out, ROOT / "logs" / "synthesis_report", size=args.size, J=args.J,
                            n_samples=1, iterations=args.iterations, restarts=args.restarts)
    print(f"[scatgen] {path}")
