"""Export stage (importable as ``latentplay.export``): checkpoint -> model bundle.

The exporter (TorchScript decoder/encoder, PCA, feature regressors, JSON sidecar) is the next
foundation issue; this package exists now so that the distribution's layout is final.
"""
