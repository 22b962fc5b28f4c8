"""nunchi: real-time ML analysis of content for Korean users."""

__all__ = ["__version__"]

__version__ = "0.1.0"
