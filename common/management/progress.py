"""The row counter the backup commands draw on standard error (off when it is not a
terminal), as a ``progress(label)`` callback for ``common.backup``."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def rows_progress(desc: str) -> Iterator[Callable[[str], None]]:
    bar = tqdm(unit=" rows", file=sys.stderr, disable=None, desc=desc)

    def tick(label: str) -> None:
        bar.set_postfix_str(label, refresh=False)
        bar.update()

    try:
        yield tick
    finally:
        bar.close()
