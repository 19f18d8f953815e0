"""The base of every request body: unknown fields refused, and JSON's types kept.

Pydantic, validating the Python objects FastAPI decoded from JSON, would turn `0` into
false, `"5"` into 5 and `true` into 1. A client sending those has a bug it should hear
about, and the OpenAPI document promises a boolean or a number: so a field declared
bool takes only true or false, and a number field takes only JSON numbers. (Pydantic's
strict mode would do this, but it also refuses the strings JSON carries UUIDs and
dates in, when validating Python objects as FastAPI does.)
"""

from __future__ import annotations

import datetime as dt
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator


def _scalar(annotation: Any) -> type | None:
    """bool, int or float when the field is one of them (or optional, or annotated)."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(kinds) != 1:
            return None
        return _scalar(kinds[0])
    return annotation if annotation in (bool, int, float) else None


def _json_type_error(kind: type, value: Any) -> str | None:
    if value is None:
        return None  # the field's own type says whether null is allowed
    if kind is bool and not isinstance(value, bool):
        return "must be true or false"
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        if isinstance(value, float) and value.is_integer():
            return None  # 5.0 is the number 5 in JSON
        return "must be an integer"
    if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "must be a number"
    return None


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _keep_json_types(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                key = field.alias or name
                kind = _scalar(field.annotation)
                if kind is not None and key in data and (problem := _json_type_error(kind, data[key])):
                    raise ValueError(f"{key}: {problem}")
        return data


def _iso_day(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a day as YYYY-MM-DD")
    return value


# A day in a query string: only YYYY-MM-DD, what the document's "format: date" says
# (Pydantic alone would read "0" as a Unix time, 1970-01-01).
IsoDate = Annotated[dt.date, BeforeValidator(_iso_day)]
