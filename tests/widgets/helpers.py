"""Reading what a panel shows: stream text and MIME bundles of its Output widgets."""

from __future__ import annotations

import base64


def stream_text(out, name=None):
    return "".join(o["text"] for o in out.outputs
                   if o["output_type"] == "stream" and (name is None or o["name"] == name))


def bundles(out):
    return [o["data"] for o in out.outputs if o["output_type"] == "display_data"]


def html_of(out):
    return "".join(b.get("text/html", "") for b in bundles(out))


def pngs(out):
    return [base64.b64decode(b["image/png"]) for b in bundles(out) if "image/png" in b]
