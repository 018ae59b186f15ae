"""Dataset statistics of a mask store: counts per group, coverage, distributions, agreement, outliers.

``compute_stats(store, layer, by=...)`` returns one JSON-able report; ``collect_tables`` and
``summarise`` are its two halves, for callers (the CLI, plots) that want the tables too.
"""

from hm_annotate.stats.collect import GROUPS, StatsTables, collect_tables
from hm_annotate.stats.summary import compute_stats, summarise

__all__ = ["GROUPS", "StatsTables", "collect_tables", "compute_stats", "summarise"]
