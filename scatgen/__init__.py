"""scatgen: generative networks that invert a fixed wavelet scattering transform.

Pipeline (one sub-package per stage): ``data`` -> ``encoders`` (scattering ``S_J``, PCA whitening
``L``, the on-disk code cache) -> ``models`` (the shared generator ``G`` and the LightningModules)
-> ``studies`` (metrics, figures, the final evaluation of a run).
"""

__version__ = "0.1.0"
