"""Order statistics the reports use, defined once so every table and test agrees.

* median: the middle value; with an even count, the mean of the two middle values;
* p90: the nearest-rank 90th percentile — the smallest value with at least 90% of
  the values at or below it (the ⌈0.9·n⌉-th smallest).
"""

import math
import statistics


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]
