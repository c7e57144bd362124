"""python scripts/synthesize.py texture=NAME_OR_PATH model=gaussian|scattering|phase_harmonic [size=128] ...:
maximum-entropy synthesis from one example -> samples.png, example.png, loss.png, metrics.json
in logs/synthesize/runs/<time>/."""

import logging

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error
from scatgen.config import CONF_DIR

log = logging.getLogger("scatgen.synthesize")


@hydra.main(version_base="1.3", config_path="../conf/synthesize", config_name="synthesize")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.synthesis.images.run import run_synthesis

    keys = ("size", "J", "L", "backend", "n_samples", "iterations", "restarts", "seed", "device", "marginal", "scale_links")
    m = run_synthesis(str(cfg.texture), cfg.model, cfg.paths.output_dir, **{k: cfg[k] for k in keys})
    log.info("%s / %s: %d moments, loss %.3g, spectrum error %.3f, marginal W1 %.4f, %.0f s -> %s", m["texture"],
             m["model"], m["n_moments"], m["final_loss"], m["spectrum_error"], m["marginal_w1"], m["seconds"],
             cfg.paths.output_dir)


if __name__ == "__main__":
    check_command_line("synthesize", CONF_DIR / "synthesize")
    main()
