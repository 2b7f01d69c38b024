"""pydantic's v1 API in both runtimes (issue 17): Rasa's environment has pydantic 1.10, the
gateway's pydantic 2, which ships the same API as `pydantic.v1`. Every model of the project
imports from here, so one code path validates the KB wherever it is loaded."""
from __future__ import annotations

try:  # pydantic 2
    from pydantic.v1 import BaseModel, BaseSettings, Field, ValidationError, validator
    from pydantic.v1.dataclasses import dataclass
except ImportError:  # pragma: no cover - pydantic 1.10 (Rasa's environment)
    from pydantic import BaseModel, BaseSettings, Field, ValidationError, validator
    from pydantic.dataclasses import dataclass

__all__ = ["BaseModel", "BaseSettings", "Field", "ValidationError", "dataclass", "validator"]
