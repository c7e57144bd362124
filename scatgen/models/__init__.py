"""The models: LightningModules (``base``, ``inverse_scattering``, ``vae``, ``gan``) over the networks and procedures in ``components``."""
