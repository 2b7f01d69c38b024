#!/usr/bin/env bash
# Print a working interpreter of Python X.Y (default 3.10: Rasa 3.6 needs Python < 3.11;
# the gateway's environment asks for 3.12). PYTHON310 / PYTHON312 name one explicitly.
want="${1:-3.10}"
explicit_var="PYTHON${want/./}"
for candidate in "${!explicit_var:-}" "python$want" "$HOME"/.pyenv/versions/"$want"*/bin/"python$want" "/usr/bin/python$want" "/usr/local/bin/python$want"; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$want'" >/dev/null 2>&1; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"
    exit 0
  fi
done
echo "error: Python $want not found (install it, or set $explicit_var=/path/to/python$want)" >&2
exit 1
