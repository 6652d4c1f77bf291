"""The tests' throwaway PostgreSQL cluster: `bench.pg`, shared with the benchmarks."""

from bench.pg import SKIP_REASON, PostgresCluster, find_bindir

__all__ = ["SKIP_REASON", "PostgresCluster", "find_bindir"]
