"""The paper's experiments: Table 1 on B8 pairs, its metrics and figures, and the
demonstration run by ``tricenter demo``."""

from .metrics import pair_metrics


__all__ = ["pair_metrics"]
