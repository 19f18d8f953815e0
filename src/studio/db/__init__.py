"""The database: roles, migrations, connections and the scopes requests run in.

Every connection of this process reads json and jsonb with orjson. Besides being
faster, it reads an integer beyond 64 bits as a float: PostgreSQL keeps a number such
as 1.3e58 as its full digits, which Python's json module would return as an int that
no JSON encoder of ours can write back (a 500 on any endpoint returning the value).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from psycopg.types.json import set_json_loads


def load_json(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # What orjson refuses and PostgreSQL stores: a number beyond a double (1e400).
        # Python's parser gives inf, which orjson writes as null.
        return json.loads(data)


set_json_loads(load_json)
