"""Metrics of the study: feature-space distances (FID/KID, precision/recall, density/coverage),
mode coverage on polygons and nearest-neighbour memorisation. PSNR/SSIM (torchmetrics),
edge/flat PSNR and the high-frequency ratio live in ``scatgen.metrics.reconstruction``; the
study parts that report them in ``scatgen.studies``."""
