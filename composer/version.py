"""The version of composer, in a leaf module so that any layer can name it (MusicXML credits, the CLI)."""

__version__ = "0.1.0"
