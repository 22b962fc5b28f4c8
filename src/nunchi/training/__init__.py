"""Scripts that build and measure the analyzers' artifacts (scikit-learn lives only here).

Run-time code never imports this package; each module is a ``python -m`` entry point or a
helper of one.
"""

from __future__ import annotations

__all__: list[str] = []
