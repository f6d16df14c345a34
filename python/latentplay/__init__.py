"""LatentPlay's runtime library: sample-pack loading, audio features, the procedural kick pack,
and the ``latentplay`` command line. Importing it never imports Lightning or wandb."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("latentplay")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
