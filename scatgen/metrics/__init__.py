"""Metrics of the study: feature-space distances (FID/KID, precision/recall, density/coverage),
mode coverage on polygons and nearest-neighbour memorisation. PSNR/SSIM live in
``scatgen.studies.reconstruction`` (torchmetrics)."""
