"""Hostile model names: a hand-written catalogue and hypothesis strategies.

Every catalogue entry must be refused as a model id; `is_valid_id` restates
the rule of DESIGN.md independently of ``jupyter_modelservice.ids``.
"""

from __future__ import annotations

import re
import string

from hypothesis import strategies as st

_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$",
            *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


_RESERVED = {"registry.db", "registry.db-wal", "registry.db-shm", "registry.db-journal"}


def is_valid_id(name: object) -> bool:
    """DESIGN.md's rule for a model id (plus: not the registry's own file name)."""
    return (isinstance(name, str) and name.lower() not in _RESERVED
            and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", name, flags=re.ASCII) is not None
            and ".." not in name and not name.endswith(".")
            and name.split(".", 1)[0].upper() not in _DEVICES)


SEPARATORS = ["/", "\\", "\u2215", "\u2044", "\uff0f", "\uff3c", "\u29f5", "\u2216", "%2f", "%2F", "%5c",
              "%5C", "%252f", "%255c", "%c0%af", "%e0%80%af", "%c1%9c", "\u0000/", "/\u0000"]
TRAVERSAL = ["..", "../", "..\\", "../x", "..\\x", "../../etc/passwd", "..\\..\\windows\\win.ini",
             "....//", "....\\\\", "..;/", ".../", "%2e%2e", "%2e%2e%2f", "%252e%252e%252f", ".%2e", "%2e.",
             "..%00", "..%2f", "..%c0%af", "%uff0e%uff0e", "\u2025", "\uff0e\uff0e", "\uff0e\uff0e/",
             "a/../b", "a/./b", "./a", "a/.", "rf/..", "rf/../../x"]
ABSOLUTE = ["/", "/etc/passwd", "/tmp/x", "//server/share", "C:\\Windows", "C:/x", "c:x", "C:", "\\\\server\\share",
            "\\\\?\\C:\\x", "\\\\.\\pipe\\x", "file:///etc/passwd", "file://x", "s3://bucket/x",
            "http://evil.example/x", "https://x", "~", "~root", "~/x", "$HOME", "${HOME}", "%USERPROFILE%",
            "%TEMP%\\x"]
CONTROL = ([f"a{chr(c)}b" for c in [*range(0, 32), 127]]
           + [f"rf{c}" for c in "\x00\n\r\t\x1b"]
           + ["a\u0085b", "a\u2028b", "a\u2029b", "a\u200bb", "a\u200db", "a\ufeffb", "a\u202eb", "a\u00a0b",
              "a\u3000b", "a\u180eb", "\u202erf"])
SPACES_DOTS = [" rf", "rf ", "rf.", ".rf", "rf..", " ", ".", "...", "rf. ", "rf .", "rf\t", "rf\n", "\nrf",
               "-rf", "_rf", "rf.joblib.", "..rf", "r..f", "a" + "." * 3 + "b"]
DEVICES = ["CON", "con", "Con.txt", "PRN", "prn.log", "AUX", "NUL", "nul.joblib", "COM1", "com9.tar.gz",
           "LPT1", "lpt9.x", "COM0", "LPT0.a.b", "CONIN$", "CONOUT$", "CLOCK$", "COM\u00b9", "LPT\u00b2",
           "CON ", "NUL."]
LONG = ["a" * 129, "a" * 255, "a" * 256, "a" * 1024, "a" * 4096, "a/" * 100, "a" * 128 + ".", "é" * 64]
UNICODE = ["\u0430dmin", "rf\u0131", "caf\u00e9", "cafe\u0301", "\uff52\uff46", "r\u0192", "\u212a", "\u0131d",
           "\U0001d42b\U0001d41f", "rf\U0001f600", "\u00c5", "A\u030a", "\u212b", "\ufb01le", "r\u200cf",
           "\u0440\u0444", "\u0391", "\u13a1", "rf\ud800", "\udcff", "\u00df", "r\u0338f", "\u2460"]
SQL = ["rf'; DROP TABLE model_metadata; --", "' OR '1'='1", "rf\" OR 1=1", "rf;--", "rf/*", "rf%", "rf_%",
       "%", "_", "rf\\", "1) OR (1=1", "rf' UNION SELECT * FROM schema_info --", "rf`", "[rf]", "rf'",
       "rf\"", "rf;", "%_%", "rf\\%", "rf' ESCAPE '\\"]
SHELL = ["$(touch x)", "`touch x`", "rf|ls", "rf&&ls", "rf>x", "rf<x", "rf*", "rf?", "rf!", "rf#", "rf@x",
         "rf=1", "rf+1", "rf,1", "{rf}", "rf(1)", "rf&", "rf^", "rf~1", "RF~1"]
REFS = ["rf:", ":3", "rf:0", "rf:-1", "rf:1.5", "rf:abc", "rf:01", "rf:3:4", "rf: 3", "rf:3 ", "rf:\u0663",
        "rf:1e3", "rf:0x1", "rf:+1", "rf:99999999999"]
EMPTY = ["", " ", "\t", "\n"]
RESERVED = ["registry.db", "REGISTRY.DB", "registry.db-wal", "Registry.db-shm", "registry.db-journal"]

CATALOGUE = sorted({*SEPARATORS, *TRAVERSAL, *ABSOLUTE, *CONTROL, *SPACES_DOTS, *DEVICES, *LONG, *UNICODE,
                    *SQL, *SHELL, *EMPTY, *RESERVED} | {f"a{sep}b" for sep in SEPARATORS} | {f"rf{sep}" for sep in SEPARATORS}
                   | {f"{sep}rf" for sep in SEPARATORS})
#: Valid ids that look like SQL or paths: accepted, and harmless.
LOOK_ALIKE_BUT_VALID = ["rf--", "NULL", "null", "DROP", "select", "0", "1", "true", "etc", "passwd", "tmp",
                        "v1.joblib", "rf.json", "a-b_c.d", "x" * 128, "COM10", "LPT10", "CONSOLE", "nul_"]
NOT_STRINGS = [3, 3.0, b"rf", bytearray(b"rf"), ["rf"], ("rf",), {"rf": 1}, True, object()]

assert not any(is_valid_id(name) for name in CATALOGUE)
assert all(is_valid_id(name) for name in LOOK_ALIKE_BUT_VALID)

_FRAGMENTS = sorted({*SEPARATORS, *TRAVERSAL, *ABSOLUTE, *SQL, *SHELL, *DEVICES[:8], *UNICODE,
                     "\x00", "\n", " ", ".", ":", "%", "rf", "a", "models", "registry.db"})
_SAFE = string.ascii_letters + string.digits + "._-"


def names(extra_fragments: list[str] | tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """Arbitrary text, hostile fragments glued together, and near-valid ids."""
    fragments = st.sampled_from([*_FRAGMENTS, *extra_fragments])
    return st.one_of(
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="ascii"), max_size=30),
        st.lists(st.one_of(fragments, st.text(alphabet=_SAFE, max_size=6)), min_size=1, max_size=6).map("".join),
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True),
        # "id:version" references: not ids, but valid where a model is looked up
        st.builds("{}:{}".format, st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
                  st.integers(1, 10**6)),
    )


def search_texts() -> st.SearchStrategy[str]:
    """Search strings: SQL and LIKE metacharacters, quotes, escapes, unicode."""
    fragments = st.sampled_from([*SQL, "%", "_", "\\", "'", '"', "[", "]", "*", "?", "rf", "RF", "Forest",
                                 "a_b", "a%b", "Dummy", "\u212a", "K", "k", "é", "\u0130"])
    return st.one_of(st.text(max_size=20),
                     st.lists(fragments, min_size=1, max_size=5).map("".join))
