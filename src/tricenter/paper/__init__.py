"""The paper's experiments: Table 1 on B8 pairs, its metrics and figures, and the
demonstration run by ``tricenter demo``."""
