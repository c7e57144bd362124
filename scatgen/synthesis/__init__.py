"""Maximum-entropy (microcanonical) synthesis from one example, on one solver
(``microcanonical``: white noise -> L-BFGS until the moments match), for two products:
``images`` (textures) and ``sounds`` (audio textures), each with its moment models, examples,
judging statistics, runs and report."""
