"""Audio textures: 1-D moment models (``moments``), procedural sounds and WAV files (``textures``),
held-out judging statistics (``statistics``), one run (``run``) and the report (``report``)."""
