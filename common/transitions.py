"""One small helper for every state machine in Keel (the incident lifecycle, a
scheduled maintenance, a postmortem's review): the table of the moves each state
allows, in the order they are offered. The owner of each machine keeps its table and
its wording; this only answers "may it go there?" and "where may it go?"."""

from collections.abc import Callable, Iterable, Mapping


class Transitions:
    def __init__(self, moves: Mapping[str, Iterable[str]]):
        self._moves: dict[str, tuple[str, ...]] = {
            str(state): tuple(targets) for state, targets in moves.items()
        }

    @property
    def states(self) -> list[str]:
        return list(self._moves)

    def allows(self, source: str, target: str) -> bool:
        return target in self._moves.get(source, ())

    def targets(self, source: str) -> list[str]:
        """Where ``source`` may go, in the table's order (the order buttons show)."""
        return list(self._moves.get(source, ()))

    def is_final(self, state: str) -> bool:
        return not self._moves.get(state)

    def require(self, source: str, target: str, refusal: Callable[[], Exception]) -> None:
        """Raise ``refusal()`` (the machine's own error, in its own words) unless allowed."""
        if not self.allows(source, target):
            raise refusal()
