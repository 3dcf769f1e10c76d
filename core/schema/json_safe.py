"""The one way tblab writes numbers to JSON: JSON has no NaN or Inf, so a non-finite
float is written as null ("no number"), never as the invalid token NaN nor as a string."""

from __future__ import annotations

import json
import math


def json_safe(value):
    """`value` with every non-finite float, at any depth of dicts, lists and tuples, as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def dumps(value, **options) -> str:
    """json.dumps of json_safe(value); anything else JSON cannot hold is an error, not a token."""
    return json.dumps(json_safe(value), allow_nan=False, **options)
