"""Model files: formats, hashing, atomic writes, and the `Store` contract they are kept under."""

from .formats import EXTENSIONS, FORMATS, check_format, detect_format, dump, loads
from .local import LocalStore
from .store import Staged, Store, check_relpath

__all__ = ["EXTENSIONS", "FORMATS", "LocalStore", "Staged", "Store", "check_format", "check_relpath",
           "detect_format", "dump", "loads"]
