"""Assertions on rendered output shared by the display and notebook tests."""

from __future__ import annotations

import base64
import re
import struct

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_bytes(bundle: dict, min_bytes: int = 5000) -> bytes:
    """Decode a bundle's ``image/png`` and check it is a real, non-trivial PNG; return the bytes."""
    data = base64.b64decode(bundle["image/png"], validate=True)
    assert data.startswith(PNG_MAGIC)
    assert len(data) > min_bytes
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width > 200 and height > 100
    return data


def html_image(html: str) -> bytes:
    """The PNG embedded in an HTML repr as a data URI."""
    match = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, "no embedded PNG in the HTML"
    data = base64.b64decode(match.group(1))
    assert data.startswith(PNG_MAGIC)
    return data


def best_cells(html: str) -> list[str]:
    """Text of the highlighted (best) cells of an HTML table."""
    return re.findall(r'<td class="[^"]*jms-best[^"]*">([^<]*)</td>', without_styles(html))


def without_styles(html: str) -> str:
    """``html`` without its inline ``style`` attributes (the layout kept for untrusted notebooks)."""
    return re.sub(r' style="[^"]*"', "", html)
