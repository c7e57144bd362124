"""The networks and procedures the models are made of (as lightning-hydra-template keeps them
apart from the LightningModules): the shared generator ``G``, the convolutional encoder of the VAE
and the GAN's discriminator, latent inversion, latent priors, DiffAugment."""
