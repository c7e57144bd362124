"""python scripts/synthesize.py texture=NAME_OR_PATH model=gaussian|scattering|phase_harmonic [size=128] ...:
maximum-entropy synthesis from one example -> samples.png, example.png, loss.png, metrics.json
in logs/synthesize/runs/<time>/."""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SCATGEN_ROOT", str(ROOT))

from scatgen.cli import exit_on_user_error  # noqa: E402


@hydra.main(version_base="1.3", config_path="../conf/synthesize", config_name="synthesize")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.synthesis.run import run_synthesis

    keys = ("size", "J", "L", "backend", "n_samples", "iterations", "restarts", "seed", "device")
    m = run_synthesis(str(cfg.texture), cfg.model, cfg.paths.output_dir, **{k: cfg[k] for k in keys})
    print(f"[scatgen] {m['texture']} / {m['model']}: {m['n_moments']} moments, loss {m['final_loss']:.3g}, "
          f"spectrum error {m['spectrum_error']:.3f}, marginal W1 {m['marginal_w1']:.4f}, "
          f"{m['seconds']:.0f} s -> {cfg.paths.output_dir}")


if __name__ == "__main__":
    main()
