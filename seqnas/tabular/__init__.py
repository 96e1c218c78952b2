"""seqnas-bench: a tabular benchmark of recurrent forecasting architectures (bench/tabular/README.md)."""

from seqnas.tabular.evaluator import LookupEvaluator
from seqnas.tabular.table import bench_space, check_bench_space, load_table, tasks

__all__ = ["LookupEvaluator", "bench_space", "check_bench_space", "load_table", "tasks"]
