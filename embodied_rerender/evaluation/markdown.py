"""The printable tables of the eval verb: one markdown renderer behind every table's summary."""

from __future__ import annotations

from typing import Callable, Union

Cell = Union[str, Callable[[dict], object]]  # a row's key, or a function of the row


def table(columns: list[tuple[str, Cell]], rows: list[dict]) -> str:
    """A markdown table: one column per `(header, cell)` of `columns`, one line per row of `rows`."""
    def value(row: dict, cell: Cell) -> object:
        return cell(row) if callable(cell) else row[cell]

    lines = ["| " + " | ".join(header for header, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(value(row, cell)) for _, cell in columns) + " |" for row in rows]
    return "\n".join(lines)
