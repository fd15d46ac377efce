"""Importers: one module per publisher, each a streaming generator of quads plus a report.

* :mod:`kg.importers.rs` — the RS system's open data (行政事業レビュー, every ministry's review
  sheets: programs, budgets, spending blocks, money chains and named recipients).
"""

from __future__ import annotations

__all__ = ["rs"]
