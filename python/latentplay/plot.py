"""``latentplay plot``: the seed's picture of a bundle, the 2-D PCA map of every training sample
coloured by pack with the pack centroids, next to histograms of the three features."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentplay.bundle import Bundle
from latentplay.features import FEATURE_NAMES, FEATURE_UNITS


def save_figure(figure, out: Path, dpi: int) -> Path:
    """Lay out, write (creating the folder) and close a matplotlib figure; returns the path."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=dpi)
    plt.close(figure)
    return out


def pca_coordinates(bundle: Bundle) -> np.ndarray:
    """(N, 2): every sample's PC1/PC2 control values."""
    weights, intercepts, _ = bundle.control_matrix()
    return bundle.latents() @ weights[:2].T + intercepts[:2]


def plot_bundle(bundle: Bundle, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(12, 6))
    grid = figure.add_gridspec(3, 2, width_ratios=(2, 1))
    draw_latent_map(figure.add_subplot(grid[:, 0]), bundle)
    for row, (name, unit) in enumerate(zip(FEATURE_NAMES, FEATURE_UNITS)):
        axis = figure.add_subplot(grid[row, 1])
        axis.hist([sample.features[name] for sample in bundle.samples], bins=30, color="tab:gray")
        axis.set_xlabel(f"{name} ({unit})")
        axis.set_ylabel("one-shots")
    figure.suptitle(f"{bundle.path.name}: {len(bundle.samples)} one-shots, latent {bundle.latent_dim}, "
                    f"model {bundle.model_id[:12]}")
    return save_figure(figure, out, dpi=100)


def map_groups(bundle: Bundle) -> list[str]:
    """The colour group of each sample: its pack, or with a single pack its first sub-pack level
    (so that the styles of the procedural pack are told apart)."""
    if len(bundle.packs) > 1:
        return [sample.pack for sample in bundle.samples]
    return [sample.subpack.split("/")[0] or sample.pack for sample in bundle.samples]


def draw_latent_map(axis, bundle: Bundle) -> None:
    import matplotlib

    points = pca_coordinates(bundle)
    groups = np.array(map_groups(bundle))
    palette = matplotlib.colormaps["tab10"].colors
    for index, group in enumerate(sorted(set(groups))):
        colour = palette[index % len(palette)]
        mask = groups == group
        axis.scatter(points[mask, 0], points[mask, 1], s=14, alpha=0.7, color=colour, label=group)
        centre = points[mask].mean(axis=0)
        axis.scatter(*centre, s=220, marker="X", color=colour, edgecolor="black", linewidth=1.2)
        axis.annotate(group, centre, textcoords="offset points", xytext=(8, 8), fontsize=9, weight="bold")
    variance = bundle.sidecar["pca"]["explained_variance_ratio"]
    axis.set_xlabel(f"PC1 ({100 * variance[0]:.0f} % of variance)")
    axis.set_ylabel(f"PC2 ({100 * variance[1]:.0f} % of variance)")
    axis.set_title("Latent map (X = centroid)")
    axis.legend(fontsize=8, loc="best")
