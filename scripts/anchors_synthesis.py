"""python scripts/anchors_synthesis.py [--textures brick ... or PNG paths] [--size 128] [--samples 1]
[--cap 1000] [--no-plateau] [--models ...] [--out DIR] [--runs DIR]: scatgen's three moment models and
the two anchors (Portilla-Simoncelli from plenoptic, phase harmonics from pywph; `pip install -e
'.[anchors]'`) side by side on every texture, each run with its own optimiser until its loss plateaus
or the cap; writes <out>/synthesis.md, its figures and loss curves.  An anchor that is not installed
is skipped with a message; an interrupted run resumes model by model from --runs."""

import argparse
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from scatgen.cli import exit_on_user_error  # noqa: E402
from scatgen.errors import ConfigError, check_integers  # noqa: E402
from scatgen.synthesis.images.report import LABELS, REFERENCE, Settings, synthesis_report  # noqa: E402
from scatgen.synthesis.images.run import check_synthesis_config  # noqa: E402
from scatgen.synthesis.images.textures import BUILTIN  # noqa: E402


def as_typed(argument: str) -> str:
    """One argument as a user would type it: a path under the repository relative to it, one under
    the home directory as ``~/...`` (left unquoted so that the shell expands it), the rest quoted."""
    if argument.startswith(str(ROOT)):
        argument = os.path.relpath(argument, ROOT)
    if argument.startswith(str(Path.home()) + "/"):
        return "~" + shlex.quote(argument[len(str(Path.home())):])
    return shlex.quote(argument)


@exit_on_user_error
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--textures", nargs="+", default=list(BUILTIN), help="built-in names or image paths")
    p.add_argument("--size", type=int, default=Settings.size)
    p.add_argument("--J", type=int, default=Settings.J)
    p.add_argument("--cap", type=int, default=Settings.cap, help="loss+gradient evaluations per sample at most")
    p.add_argument("--no-plateau", action="store_true", help="run every model to the cap (an equal budget)")
    p.add_argument("--samples", type=int, default=Settings.n_samples)
    p.add_argument("--models", nargs="+", default=list(LABELS), choices=list(LABELS))
    p.add_argument("--reference", default=REFERENCE, choices=list(LABELS),
                   help="the model whose wall time every other model is also scored at")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=ROOT / "logs" / "anchors" / "report",
                   help="where synthesis.md and its figures go (make synthesis-report: docs/)")
    p.add_argument("--page", default="synthesis.md", help="the page's file name; its figures go to a folder of its stem")
    p.add_argument("--runs", type=Path, default=ROOT / "logs" / "anchors", help="one directory per texture and model")
    args = p.parse_args()
    check_synthesis_config("scattering", args.size, args.J, n_samples=args.samples, iterations=args.cap)
    check_integers(("cap", args.cap, 1))
    if len({Path(t).stem for t in args.textures}) < len(args.textures):
        raise ConfigError(f"--textures {' '.join(args.textures)}: two have the same file name; their runs would share "
                          "a directory; rename one")
    settings = Settings(size=args.size, J=args.J, n_samples=args.samples, cap=args.cap, plateau=not args.no_plateau,
                        device=args.device)
    command = None if args.textures == list(BUILTIN) and args.page == "synthesis.md" else \
        "python scripts/anchors_synthesis.py " + " ".join(as_typed(a) for a in sys.argv[1:])
    path = synthesis_report(args.textures, args.out, args.runs, settings, args.models, page=args.page,
                            reference=args.reference, command=command)
    print(f"[scatgen] {path}")


if __name__ == "__main__":
    os.environ.setdefault("TQDM_MININTERVAL", "5")
    main()
