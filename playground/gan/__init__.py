"""Generative adversarial networks (Goodfellow et al. 2014), trained live.

Read ``model.py`` first: the generator and discriminator as ``nn.Module``s, the losses
(standard, non-saturating, WGAN-GP: Arjovsky et al. 2017; Gulrajani et al. 2017), one
discriminator step and one generator step (autograd, ``torch.optim``), and a run that
trains them from its own seeded generator and yields snapshots. ``config.py`` holds the
settings and the lesson presets (mode collapse, D too strong...), ``data.py`` the 2-D
targets and the digits data, ``digits.py`` the same GAN on 8 × 8 digits.
"""
