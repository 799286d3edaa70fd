"""Evaluation protocols: which frames and objects are scored, and how per-frame scores become statistics.

One module per protocol, on the shared base in :mod:`savkit.eval.protocols.base` (after TrackEval's layout).
"""

from __future__ import annotations

from savkit.errors import SavkitError
from savkit.eval.options import EvalOptions
from savkit.eval.protocols.base import ObjectFrames, Protocol, VideoScorer
from savkit.eval.protocols.davis2017 import Davis2017Protocol
from savkit.eval.protocols.davis2017_unsupervised import Davis2017UnsupervisedProtocol
from savkit.eval.protocols.lvos import LvosProtocol
from savkit.eval.protocols.mosev2 import Mosev2Protocol
from savkit.eval.protocols.sav import SavProtocol
from savkit.eval.protocols.vost import VostProtocol

PROTOCOLS: dict[str, type[Protocol]] = {
    "sav": SavProtocol,
    "davis2017": Davis2017Protocol,
    "davis2017-unsupervised": Davis2017UnsupervisedProtocol,
    "vost": VostProtocol,
    "mosev2": Mosev2Protocol,
    "lvos": LvosProtocol,
}


def get_protocol(name: str, options: EvalOptions | None = None) -> Protocol:
    """The protocol registered under ``name``, set up with the run's options."""
    try:
        protocol = PROTOCOLS[name]
    except KeyError:
        raise SavkitError(f"unknown protocol {name!r}: choose one of {', '.join(PROTOCOLS)}") from None
    return protocol(options)


__all__ = ["PROTOCOLS", "ObjectFrames", "Protocol", "VideoScorer", "get_protocol"]
