"""SQL shared by the SQLite and PostgreSQL stores (same table, same filters)."""
from __future__ import annotations

import json
from datetime import tzinfo
from typing import Any, Callable, List, Tuple

from bot.cases.models import Case
from bot.cases.store import CaseFilter

COLUMNS = "id, created_us, scam_type, risk_level, search_text, record"


def row_values(case: Case) -> Tuple[Any, ...]:
    """The column values for `COLUMNS`; `record` is the whole case as JSON (ASCII, so any
    text round-trips through any database encoding)."""
    record = json.dumps(case.to_record(), ensure_ascii=True, sort_keys=True)
    return case.id, case.created_us, case.scam_type, case.risk_level, case.search_text(), record


def case_from_row(record: str) -> Case:
    return Case.from_record(json.loads(record))


def where_clause(
    filters: CaseFilter, tz: tzinfo, placeholder: Callable[[int], str], find: str
) -> Tuple[str, List[Any]]:
    """`WHERE …` for the filters (dates are days in `tz`); `placeholder(n)` gives the n-th
    (1-based) parameter mark, `find` the substring function (instr / strpos: plain text,
    no LIKE wildcards)."""
    conditions: List[str] = []
    params: List[Any] = []

    def add(condition: str, value: Any) -> None:
        params.append(value)
        conditions.append(condition.format(placeholder(len(params))))

    start, end = filters.time_bounds(tz)
    if start is not None:
        add("created_us >= {}", start)
    if end is not None:
        add("created_us < {}", end)
    if filters.scam_type:
        add("scam_type = {}", filters.scam_type)
    if filters.needle:
        add(f"{find}(search_text, {{}}) > 0", filters.needle)
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", params
