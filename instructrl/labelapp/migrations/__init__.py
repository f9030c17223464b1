"""Alembic migration environment of the labeling app (a package so it ships in the wheel)."""
