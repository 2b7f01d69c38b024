"""Case records for hotline operators: what a caller reported, the verdict, and a store.

Plain Python, no web framework: the operator console and the cases API both go through
`bot.gateway.cases_api.save_case`, which assesses the notes and hands a `CaseDraft` to
a `CaseStore` (SQLite by default, Redis or PostgreSQL by `CASES_URL`).
Raw notes are stored, because the police need them; personal data is masked on output
(`Case.to_api()`), unless an operator unmasks it on purpose.
"""
from bot.cases.factory import DEFAULT_CASES_URL, open_case_store
from bot.cases.models import CASE_CHANNELS, Case, CaseDraft, CaseValidationError
from bot.cases.store import CaseFilter, CaseStore

__all__ = [
    "CASE_CHANNELS", "Case", "CaseDraft", "CaseValidationError",
    "CaseFilter", "CaseStore", "DEFAULT_CASES_URL", "open_case_store",
]
