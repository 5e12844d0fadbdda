"""A report table: a title, the definition shown beside it, typed columns and rows of
raw values. The page formats the values; the CSV writes them as they are."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    label: str
    # text | count | minutes | percent | money
    kind: str = "text"


@dataclass
class Table:
    key: str
    title: str
    definition: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    # Which column the chart draws (by index), labelled by the text columns before it.
    chart_column: int | None = None
    section: str = ""

    def chart_points(self) -> list[tuple[str, float]]:
        if self.chart_column is None:
            return []
        points = []
        for row in self.rows:
            value = row[self.chart_column]
            if value is None:
                continue
            label = " · ".join(
                str(cell)
                for cell, column in zip(row[: self.chart_column], self.columns, strict=False)
                if column.kind == "text" and cell != ""
            )
            points.append((label, float(value)))
        return points


def minutes_display(minutes: float) -> str:
    if minutes < 1:
        return f"{round(minutes * 60)} s"
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, rest = divmod(round(minutes), 60)
    if hours < 48:
        return f"{hours} h {rest:02d} min"
    return f"{minutes / 1440:.1f} d"
