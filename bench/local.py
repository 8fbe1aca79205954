"""For the benchmarks that run LeadLoop in their own process (bench/ is not a package)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_on(sqlite_name: str) -> None:
    """Set Django up on `DATABASE_URL`, else on the SQLite file `var/bench/<sqlite_name>`."""
    if not os.environ.get("DATABASE_URL"):
        (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench' / sqlite_name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.config.settings")
    import django

    django.setup()
