"""scatgen: generative networks that invert a fixed wavelet scattering transform.

The package follows the pipeline, and imports only downwards (``tests/test_layout.py``):

- ``storage``, ``errors``, ``devices``: atomic, verified artefacts; one-line errors; where work runs.
- ``data``: data sets as prepared uint8 arrays (polygons, CelebA, LSUN, folders), the data module.
- ``viz``: image grids and plots (PNG).
- ``scattering``: the transform library, the scattering ``S_J`` (fast and kymatio backends).
- ``encoding``: the encoding stage, the whitening ``L`` and the code cache of ``z = L S_J x``.
- ``models``: the shared generator ``G``, the inverse-scattering model, the VAE and GAN baselines,
  latent priors.
- ``metrics``: reconstruction, feature-space distances, mode coverage, memorisation.
- ``studies``: the study of a trained model as named parts, the report across models.
- ``synthesis``: maximum-entropy texture synthesis from one example.
- on top: the package itself (importing it registers the config schemas), ``config``, ``cli``, ``training``, ``factory`` (config -> objects), ``pipeline`` (``train.py``),
  ``evaluate``, ``compare``.
"""

__version__ = "0.2.0"


def _register_with_hydra() -> None:
    """``import scatgen`` is enough to compose ``conf/`` from Python (notebooks, tests): the
    schemas (``schema/<name>``) and the resolvers are registered when ``scatgen.config`` is
    imported (idempotent: registering again replaces the same entries)."""
    import scatgen.config  # noqa: F401


_register_with_hydra()
