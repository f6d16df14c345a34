"""Training stage (importable as ``latentplay.training``): model, loss, Lightning modules, configs.

Importing :mod:`latentplay` never imports this package; it pulls in Lightning and wandb.
"""
