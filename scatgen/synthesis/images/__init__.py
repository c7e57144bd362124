"""Image textures: moment models (``moments``: power spectrum, scattering, phase harmonics),
examples (``textures``), judging statistics (``statistics``), one run (``run``), the published
anchors (``anchors``: plenoptic's Portilla-Simoncelli, pywph) and the side-by-side report (``report``)."""
