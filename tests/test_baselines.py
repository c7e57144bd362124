import json

import pytest
import torch

from conftest import compose_cfg
from scatgen.models.components.generator import Generator
from scatgen.models.components.inversion import invert_latents
from scatgen.metrics.reconstruction import reconstruction_scores
from scatgen.factory import build
from scatgen.pipeline import encode, train

FAST_GAN = ["model.inversion.steps=5", "model.inversion.restarts=1", "model.val_inversion_images=8"]


def _built(tmp_path, model, extra=()):
    cfg = compose_cfg(tmp_path, [f"model={model}", *extra])
    dm, m = build(cfg)
    dm.prepare_data()
    encode(cfg, dm, m)
    dm.setup()
    return cfg, dm, m


def test_the_generator_is_one_class_in_all_three_models(tmp_path):
    models = [_built(tmp_path, m, ["model.latent_dim=32"] if m != "inverse_scattering" else [])[2]
              for m in ("inverse_scattering", "vae", "dcgan")]
    assert all(type(m.generator) is Generator for m in models)
    # the inverse-scattering latent is the whitened code; the baselines' is set on its own
    assert [m.generator.z_dim for m in models] == [models[0].whitening.z_dim, 32, 32]


@pytest.mark.slow  # 10-20 s on an AVX2-only CPU (keeps make test under 10 min there)
def test_vae_learns(tmp_path):
    cfg, dm, model = _built(tmp_path, "vae", ["trainer.max_epochs=6", "data.batch_size=16"])
    before = reconstruction_scores(model, dm.split_loader("test"))["psnr"].mean().item()
    train(cfg)
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["test/psnr"] > before + 2.0, (before, metrics["test/psnr"])
    assert all(torch.isfinite(torch.tensor(metrics[k])) for k in ("val/loss", "val/kl", "val/rec"))
    assert (tmp_path / "run/samples.png").exists() and (tmp_path / "run/interpolations.png").exists()


def test_one_gan_step_changes_both_networks(tmp_path):
    cfg, dm, model = _built(tmp_path, "dcgan", FAST_GAN)
    g0 = [p.detach().clone() for p in model.generator.parameters()]
    d0 = [p.detach().clone() for p in model.discriminator.parameters()]
    import lightning as L

    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        limit_val_batches=0, enable_model_summary=False)
    trainer.fit(model, datamodule=dm)  # max_steps counts both optimisers: one D and one G step
    assert any(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, model.discriminator.parameters()))
    logged = trainer.callback_metrics
    assert torch.isfinite(logged["train/loss_d_step"]) and torch.isfinite(logged["train/loss_g_step"])


def test_gan_run_writes_the_same_outputs(tmp_path):
    """Keys, files and values: PSNR in dB within (0, 60), SSIM within [-1, 1], all finite.
    Planted bug it catches: PSNR computed on [-1, 1] images with data_range 1 (negative gaps and
    values off by 6 dB still pass a key check), or NaN from a diverged generator."""
    train(compose_cfg(tmp_path, ["model=dcgan", "trainer.max_epochs=1", "study.eval_limit=16", *FAST_GAN]))
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert {"train/psnr", "test/psnr", "train/ssim", "test/ssim"} <= set(metrics)
    assert metrics["n_eval/train"] == 16 and metrics["n_eval/test"] == 16
    for split in ("train", "test"):
        assert 5.0 < metrics[f"{split}/psnr"] < 60.0 and -1.0 <= metrics[f"{split}/ssim"] <= 1.0
    assert abs(metrics["gap/psnr"] - (metrics["train/psnr"] - metrics["test/psnr"])) < 1e-9
    for name in ("samples.png", "interpolations.png", "checkpoints/last.ckpt"):
        assert (tmp_path / "run" / name).stat().st_size > 1000


def test_latent_inversion_recovers_a_representable_target():
    torch.manual_seed(0)
    g = Generator(16, image_size=16, width=8).eval()
    z_star = torch.randn(8, 16)
    with torch.no_grad():
        target = g(z_star)
        start = (g(torch.randn(8, 16)) - target).pow(2).mean().item()
    z = invert_latents(g, target, steps=200, restarts=2, lr=0.05)
    with torch.no_grad():
        end = (g(z) - target).pow(2).mean().item()
    assert end < 0.05 * start, (start, end)
    assert all(not p.requires_grad or p.grad is None for p in g.parameters())


@pytest.mark.parametrize("model,bad", [("vae", "model.loss=huber"), ("dcgan", "model.loss=wasserstein")])
def test_unknown_losses_are_refused(tmp_path, model, bad):
    with pytest.raises(Exception, match="unknown"):
        _built(tmp_path, model, [bad])


def test_latent_inversion_works_under_the_evaluation_autocast():
    # a bf16 autocast region that caches casts would freeze the optimised z (GAN PSNR ~4 dB)
    from scatgen.studies.context import precision_context

    torch.manual_seed(0)
    g = Generator(16, image_size=16, width=8).eval()
    with torch.no_grad():
        target = g(torch.randn(8, 16))
        start = (g(torch.randn(8, 16)) - target).pow(2).mean().item()
    with precision_context("bf16-mixed", "cpu")():
        z = invert_latents(g, target, steps=100, restarts=1, lr=0.05)
    with torch.no_grad():
        end = (g(z) - target).pow(2).mean().item()
    assert end < 0.2 * start, (start, end)


def test_sngan_steps_the_online_generator_and_averages_it(tmp_path):
    """The moving average follows the trained weights: after each G step, ``G_ema = d G_ema +
    (1 - d) G`` with the ramped decay.  Planted bugs it catches: the optimiser stepping the
    averaged copy (the online weights then never move) and a missing ``update_ema`` (G_ema stays
    at the initial weights)."""
    import lightning as L

    _, dm, model = _built(tmp_path, "gan", FAST_GAN)  # model=gan: the recommended GAN, the SN-GAN recipe
    assert model.generator is not model.trained_generator and model.discriminator.head.parametrizations
    online0 = [p.detach().clone() for p in model.trained_generator.parameters()]
    ema0 = [p.detach().clone() for p in model.generator.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(online0, ema0))  # the average starts at the trained weights
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        limit_val_batches=0, enable_model_summary=False)
    trainer.fit(model, datamodule=dm)  # one D and one G step
    online = list(model.trained_generator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(online0, online))
    decay = min(model.ema_decay, 1 / 10)  # the first update: (1 + 0) / (10 + 0)
    for before, trained, averaged in zip(ema0, online, model.generator.parameters()):
        assert torch.allclose(averaged, decay * before + (1 - decay) * trained, atol=1e-6)
    assert int(model.ema_steps) == 1


def test_diffaugment_translates_and_cuts_out_with_gradients():
    """Translation moves content by whole pixels (zeros come in at the border); cutout zeroes a
    square of (ratio * size)^2 pixels; both pass gradients to the input (G learns through them)."""
    from scatgen.models.components.augment import DiffAugment, cut_out, translate

    torch.manual_seed(0)
    x = torch.rand(64, 3, 16, 16) + 1.0  # no zeros of its own
    shifted = translate(x, 0.125)
    moved = 0
    for a, b in zip(x, shifted):
        found = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)
                 if torch.equal(torch.roll(a, (dx, dy), (1, 2))[:, 2:-2, 2:-2], b[:, 2:-2, 2:-2])]
        assert found, "not a whole-pixel shift"
        moved += found[0] != (0, 0)
        assert (b == 0).any() == (found[0] != (0, 0))  # zeros come in exactly when the image moved
    assert moved > 50  # 24 of the 25 offsets move
    holes = (cut_out(x, 0.5) == 0).all(1).sum((1, 2))
    assert holes.max() == 64 and holes.float().mean() > 30  # an 8x8 square, cropped at the borders
    y = x.clone().requires_grad_(True)
    DiffAugment(0.125, 0.5)(y).sum().backward()
    assert y.grad is not None and 0 < float(y.grad.mean()) < 1


def test_r1_penalises_the_squared_gradient_of_d_on_real_images():
    """For D(x) = sum(w * x^2 / 2) the gradient is w * x, so R1 = mean_i ||w * x_i||^2, and its own
    gradient reaches D's weights (the D step descends it).  Planted bugs it catches: the norm not
    squared; the gradient taken without ``create_graph`` (no gradient to ``w``)."""
    from scatgen.models.gan import r1_penalty

    torch.manual_seed(0)
    w = torch.rand(3, 4, 4, requires_grad=True)
    x = torch.randn(5, 3, 4, 4)
    penalty = r1_penalty(lambda v: (w * v.square() / 2).flatten(1).sum(1), torch.nn.Identity(), x)
    expected = (w.detach() * x).square().flatten(1).sum(1).mean()
    assert torch.allclose(penalty, expected, rtol=1e-5)
    penalty.backward()
    assert torch.allclose(w.grad, (2 * w.detach() * x.square()).mean(0), rtol=1e-4)


def test_d_steps_per_g_steps_the_generator_every_nth_batch(tmp_path):
    """``model.d_steps_per_g=3`` over 6 batches: 6 discriminator steps, 2 generator steps, 2 updates of
    the moving average; ``generator_steps`` says 2 (``global_step`` 8), and a checkpoint every generator
    step (``GeneratorStepCheckpoint``) writes exactly ``gstep000001`` and ``gstep000002``.  Planted bugs it
    catches: the G step taken on every batch (6 G steps), ``generator_steps`` counting batches."""
    import lightning as L

    from scatgen.training import GeneratorStepCheckpoint

    _, dm, model = _built(tmp_path, "sngan", [*FAST_GAN, "model.d_steps_per_g=3", "data.batch_size=8"])
    trainer = L.Trainer(max_epochs=1, limit_train_batches=6, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, limit_val_batches=0, enable_model_summary=False,
                        callbacks=[GeneratorStepCheckpoint(every=1)], default_root_dir=str(tmp_path / "run"))
    trainer.fit(model, datamodule=dm)
    opt_d, opt_g = (o.optimizer for o in model.optimizers())
    steps = [int(next(iter(o.state.values()))["step"]) for o in (opt_d, opt_g)]
    assert steps == [6, 2] and int(model.ema_steps) == 2 and trainer.global_step == 8
    assert model.generator_steps == 2
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").glob("gstep*")) == ["gstep000001.ckpt", "gstep000002.ckpt"]


def test_generator_upsampling_is_the_configured_one():
    """``upsample=nearest`` repeats each pixel of the map before every block's conv (planted bug it
    catches: the option ignored, bilinear kept); an unknown mode is refused in one line."""
    for mode, repeats in (("nearest", True), ("bilinear", False)):
        g = Generator(8, image_size=16, width=4, upsample=mode)
        up = g.blocks[0][0](torch.randn(2, 8, 4, 4))
        assert torch.equal(up[..., ::2, :], up[..., 1::2, :]) is repeats, mode
    with pytest.raises(ValueError, match="model.generator.upsample='cubic' is unknown; use bilinear or nearest"):
        Generator(8, image_size=16, upsample="cubic")


def test_discriminator_depth_two_adds_a_normalised_3x3_conv_per_scale():
    from torch import nn

    from scatgen.models.components.conv_encoder import ConvEncoder

    x = torch.randn(2, 3, 32, 32)
    for depth, n_convs in ((1, 4), (2, 7)):  # 32 -> 4: three strided convs, after the first conv
        d = ConvEncoder(1, image_size=32, width=8, spectral_norm=True, depth=depth)
        convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
        assert len(convs) == n_convs and all(hasattr(c, "parametrizations") for c in convs)
        assert [c.kernel_size for c in convs].count((3, 3)) == n_convs - 3
        assert d(x).shape == (2, 1)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in ConvEncoder(1, image_size=32, width=8, depth=2).features) == 6
    with pytest.raises(ValueError, match="depth=3 must be 1"):
        ConvEncoder(1, image_size=32, depth=3)


def test_the_gan_is_inverted_in_the_studys_inversion_batches(tmp_path):
    """``study.inversion_batch`` sets how many images latent inversion optimises at once (1.4x faster
    per image at 128 than the loader's 32 on CPU), over the same images in the same order.  Planted
    bug it catches: ``split_loader`` ignoring its ``batch_size`` (batches of ``data.batch_size``)."""
    from scatgen.studies.context import StudyContext
    from scatgen.studies.settings import StudySettings

    _, dm, model = _built(tmp_path, "dcgan", [*FAST_GAN, "data.batch_size=4"])
    seen = []
    model.latents = lambda batch: seen.append(len(batch[0])) or torch.zeros(len(batch[0]), model.latent_dim)
    ctx = StudyContext(model, dm, tmp_path, StudySettings(eval_limit=12, inversion_batch=5))
    scores = ctx.reconstruction("test")
    assert seen == [5, 5, 2] and len(scores["psnr"]) == 12
    expected = torch.cat([model.batch_images(b) for b in dm.split_loader("test", 12)])
    assert torch.equal(ctx.reconstruction("test")["images"], (expected + 1) / 2)
