"""python scripts/synthesize_audio.py texture=rain|applause|wind|fire|harmonic_am|clicks|PATH.wav
model=gaussian|scattering|phase_harmonic [duration=3] [sample_rate=16000] [n_samples=1] [device=cuda]:
maximum-entropy synthesis of a sound texture -> example.wav, sample_<i>.wav (16-bit), spectrograms.png,
loss.png, metrics.json in logs/synthesize_audio/runs/<time>/."""

import logging

import hydra
from omegaconf import DictConfig

from scatgen.cli import check_command_line, exit_on_user_error
from scatgen.config import CONF_DIR

log = logging.getLogger("scatgen.synthesize_audio")


@hydra.main(version_base="1.3", config_path="../conf/synthesize", config_name="synthesize_audio")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from scatgen.synthesis.sounds.run import run_audio_synthesis

    keys = ("duration", "sample_rate", "J", "Q", "n_samples", "iterations", "restarts", "seed", "device")
    m = run_audio_synthesis(str(cfg.texture), cfg.model, cfg.paths.output_dir, **{k: cfg[k] for k in keys})
    log.info("%s / %s: %d moments, loss %.3g -> %.3g, log-spectrum error %.3f, %.0f s -> %s", m["texture"], m["model"],
             m["n_moments"], m["initial_loss"], m["final_loss"], m["log_spectrum_error"], m["seconds"],
             cfg.paths.output_dir)


if __name__ == "__main__":
    check_command_line("synthesize_audio", CONF_DIR / "synthesize")
    main()
