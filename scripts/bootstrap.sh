# Sourced by scripts/run and scripts/test: a virtualenv with the pinned dependencies,
# and the embedded PostgreSQL + Redis unless DATABASE_URL / REDIS_URL are set.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON_BIN="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "› creating .venv with $PYTHON_BIN" >&2
  "$PYTHON_BIN" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "› installing dependencies (first run takes a minute)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  .venv/bin/python -m pip install --quiet -e ".[dev]" >&2
  rm -f .venv/.installed-* && touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"

SERVICES_WERE_RUNNING=0
if python scripts/services.py status >/dev/null 2>&1; then SERVICES_WERE_RUNNING=1; fi
eval "$(python scripts/services.py start)"
export DATABASE_URL REDIS_URL
# The owner role (migrations, new organizations' schemas); unset with an external
# DATABASE_URL alone, when one role does everything.
if [ -n "${DATABASE_OWNER_URL:-}" ]; then export DATABASE_OWNER_URL; fi
