"""wirelessrl: learned wireless optimization with transfer learning and reconstruction loss."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wirelessrl")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
