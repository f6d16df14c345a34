"""The latent-control projector: the reference the C++ engine must match.

Five controls are linear in the latent point z: control_k(z) = a_k · z + c_k (rows of A, with
intercepts c). For the PCs, a_k is the component w_k and c_k = −w_k · mean, so that
control_k = w_k · (z − mean). Given the user's targets t, the new point solves

    minimise ‖z' − z‖²  subject to  A z' = t − c  (= b')

whose solution is z' = z + Aᵀ(AAᵀ)⁻¹(b' − A z). We never form (AAᵀ)⁻¹:

1. Each row (and its residual) is divided by its control's span (the training range width), so
   that every control counts in "fractions of its range": this fixes what a compromise means
   when the controls cannot all be met, and keeps Hz and ms comparable.
2. The scaled A = U Σ Vᵀ (SVD) and the correction is V Σ⁺ Uᵀ r, where Σ⁺ inverts the singular
   values above ``RCOND · σ_max`` and sets the others to zero (truncated SVD, the
   regularisation). A is fixed for a bundle, so which directions are kept never changes while
   the user turns the controls: the response stays continuous.

With rows that are independent to better than RCOND this is the exact solution to machine
precision. When two controls are (nearly) the same direction — e.g. frequency almost along PC1
— the direction that tells them apart is dropped instead of exploding, and targets that ask the
two for different values are unreachable: the result is the least-squares compromise of minimal
norm, i.e. the controls are met as well as possible in fractions of their ranges (two identical
controls asked for different values both land half-way) and the latent moves no further than
that needs.
"""

from __future__ import annotations

import numpy as np

RCOND = 1e-6
"""Singular values of the range-scaled control matrix below RCOND · σ_max count as zero."""


def control_values(latent: np.ndarray, weights: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
    """Control values a_k · z + c_k, for one latent (D,) or many (N, D)."""
    return np.asarray(latent, dtype=np.float64) @ np.asarray(weights, dtype=np.float64).T + intercepts


def project(latent: np.ndarray, targets: np.ndarray, weights: np.ndarray, intercepts: np.ndarray,
            spans: np.ndarray) -> np.ndarray:
    """The latent point closest to ``latent`` whose controls equal ``targets``.

    latent (D,), targets (K,), weights A (K, D), intercepts c (K,), spans (K,) > 0: the width of
    each control's range. Returns z' (D,) in float64.
    """
    z = np.asarray(latent, dtype=np.float64)
    a = np.asarray(weights, dtype=np.float64)
    scale = 1.0 / np.asarray(spans, dtype=np.float64)
    residual = (np.asarray(targets, dtype=np.float64) - control_values(z, a, intercepts)) * scale
    u, sigma, vt = np.linalg.svd(a * scale[:, None], full_matrices=False)
    kept = sigma > RCOND * sigma.max() if sigma.size else sigma.astype(bool)
    inverse = np.divide(1.0, sigma, out=np.zeros_like(sigma), where=kept)
    return z + vt.T @ (inverse * (u.T @ residual))
