"""How long ``%load_ext jupyter_modelservice`` takes in a fresh interpreter (budget: 150 ms).

Each run starts a new Python with an IPython shell, so nothing is cached in
``sys.modules``; the timed part is the ``%load_ext`` call alone. IPython's own
``autoreload`` extension, loaded the same way, is the reference.

    python -m benchmarks extension_load
"""

from __future__ import annotations

import statistics
import subprocess
import sys

RUNS = 7
BUDGET_MS = 150.0

_CHILD = """
import sys, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
start = time.perf_counter()
shell.run_line_magic("load_ext", sys.argv[1])
elapsed = time.perf_counter() - start
heavy = [m for m in ("sklearn", "pandas", "matplotlib", "jupyter_modelservice.service") if m in sys.modules]
print(elapsed * 1000, ",".join(heavy))
"""


def load_ms(extension: str) -> tuple[float, str]:
    """Milliseconds of one ``%load_ext extension`` in a new interpreter, and heavy modules it pulled in."""
    out = subprocess.run([sys.executable, "-c", _CHILD, extension], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), (out[1] if len(out) > 1 else "")


def main() -> None:
    ours = [load_ms("jupyter_modelservice") for _ in range(RUNS)]
    reference = [load_ms("autoreload")[0] for _ in range(RUNS)]
    median = statistics.median(ms for ms, _ in ours)
    median_ref = statistics.median(reference)
    heavy = sorted({name for _, names in ours for name in names.split(",") if name})
    print(f"%load_ext jupyter_modelservice: median {median:.1f} ms over {RUNS} fresh interpreters "
          f"(min {min(ms for ms, _ in ours):.1f}, max {max(ms for ms, _ in ours):.1f}); "
          f"budget {BUDGET_MS:.0f} ms")
    print(f"%load_ext autoreload (reference): median {median_ref:.1f} ms; "
          f"ratio {median / median_ref:.1f}x")
    print(f"heavy modules imported by loading: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
