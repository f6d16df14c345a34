"""Training stage (importable as ``latentplay.training``): loss, Lightning modules, configs
(the model itself is :mod:`latentplay.model`, shared with export and the runtime).

Importing :mod:`latentplay` never imports this package; it pulls in Lightning and wandb.
"""
