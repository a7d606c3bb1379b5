"""Model files: formats, hashing and atomic writes."""

from .formats import EXTENSIONS, FORMATS, check_format, detect_format, dump, loads
from .local import LocalStore, Staged

__all__ = ["EXTENSIONS", "FORMATS", "LocalStore", "Staged", "check_format", "detect_format",
           "dump", "loads"]
