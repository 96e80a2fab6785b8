"""How far a held-out proportion can be trusted: the 95% Wilson score interval over n distinct items.

Six items all right is not certainty (0.61-1.00); a figure is quoted with its distinct items and this
interval (`lit report`, `bench/tables.py`).
"""

from __future__ import annotations

import math


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% (z = 1.96) Wilson score interval of the proportion `successes / n`, clipped to [0, 1]."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - half) / (1 + z * z / n)), min(1.0, (centre + half) / (1 + z * z / n))
