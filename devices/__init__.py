"""What both device kinds share, and the wire contract the CMS also imports."""

__version__ = "0.1.0"
