"""Maximum-entropy (microcanonical) synthesis from one example, images and sounds, on one solver
(``microcanonical``).  Images: moment models (``moments``), examples (``textures``), judging
statistics (``statistics``), one run (``run``), the published anchors (``anchors``: plenoptic,
pywph) and the side-by-side report (``report``).  Sounds: ``moments1d``, ``sounds``,
``audio_statistics``, ``audio_run``, ``audio_report``."""
