"""Running the Argo CD Lua scripts with a real Lua 5.1 interpreter (Debian's lua5.1, from `make tools`).

Argo CD runs health checks and actions as Lua 5.1 chunks with the resource in the global `obj`.
`run_script(path, obj)` does the same: the object becomes a Lua table literal, the chunk runs, and
the table it returns comes back as JSON (encoded by a small Lua encoder below).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

LUA = "lua5.1"

# Lua -> JSON: tables with keys 1..n are arrays, other tables objects; an empty table is {}.
_ENCODER = r"""
local function encode(v)
  local t = type(v)
  if t == "nil" then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then return string.format("%.17g", v) end
  if t == "string" then
    return '"' .. string.gsub(v, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
    end) .. '"'
  end
  if t ~= "table" then error("cannot encode a " .. t) end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  if n > 0 and #v == n then
    local parts = {}
    for i = 1, n do parts[i] = encode(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local parts = {}
  for k, item in pairs(v) do
    table.insert(parts, encode(tostring(k)) .. ":" .. encode(item))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end
"""


def _string(value: str) -> str:
    out = []
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if byte < 32 or byte == 127 or char in '"\\':
            out.append(f"\\{byte:03d}")
        else:
            out.append(char if byte < 128 else f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def to_lua(value: Any) -> str:
    """A Lua table constructor for JSON-shaped data (None becomes nil: the key is absent, as in Argo CD)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"not a JSON number: {value}")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        items = [f"[{_string(str(k))}] = {to_lua(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"cannot convert {type(value).__name__} to Lua")


def run_script(script: Path, obj: dict[str, Any], tmp_path: Path) -> Any:
    """What the chunk in `script` returns when the global `obj` is `obj`, decoded from JSON."""
    if shutil.which(LUA) is None:
        pytest.fail(f"{LUA} is not installed: run `make tools`", pytrace=False)
    program = tmp_path / "run.lua"
    program.write_text(
        _ENCODER
        + f"obj = {to_lua(obj)}\n"
        + f"local chunk = assert(loadfile({_string(str(script))}))\n"
        + "io.write(encode(chunk()))\n"
    )
    result = subprocess.run([LUA, str(program)], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.fail(f"{script.name} failed under {LUA}:\n{result.stderr}", pytrace=False)
    return json.loads(result.stdout)
