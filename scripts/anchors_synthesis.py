"""python scripts/anchors_synthesis.py [--textures brick ... or PNG paths] [--size 256] [--evaluations 50]
[--samples 2] [--models ...] [--device cpu]: scatgen's three moment models and the two anchors
(Portilla-Simoncelli from plenoptic, phase harmonics from pywph; `pip install -e '.[anchors]'`) side by
side on every texture; writes docs/synthesis.md and its figures.  An anchor that is not installed is
skipped with a message; an interrupted run resumes from logs/anchors/."""

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from scatgen.cli import exit_on_user_error  # noqa: E402
from scatgen.synthesis.images.report import LABELS, Settings, synthesis_report  # noqa: E402
from scatgen.synthesis.images.run import check_synthesis_config  # noqa: E402
from scatgen.synthesis.images.textures import BUILTIN  # noqa: E402


@exit_on_user_error
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--textures", nargs="+", default=list(BUILTIN))
    p.add_argument("--size", type=int, default=Settings.size)
    p.add_argument("--J", type=int, default=Settings.J)
    p.add_argument("--evaluations", type=int, default=Settings.evaluations)
    p.add_argument("--samples", type=int, default=Settings.n_samples)
    p.add_argument("--models", nargs="+", default=list(LABELS), choices=list(LABELS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    p.add_argument("--runs", type=Path, default=ROOT / "logs" / "anchors")
    args = p.parse_args()
    check_synthesis_config("scattering", args.size, args.J, n_samples=args.samples, iterations=args.evaluations)
    settings = Settings(size=args.size, J=args.J, n_samples=args.samples, evaluations=args.evaluations,
                        device=args.device)
    path = synthesis_report(args.textures, args.out, args.runs, settings, args.models)
    print(f"[scatgen] {path}")


if __name__ == "__main__":
    os.environ.setdefault("TQDM_MININTERVAL", "5")
    main()
