"""Figures shared by training callbacks, studies and synthesis: image grids (torchvision) and
matplotlib plots, written as PNG (headless)."""
