"""The benchmark harness: grids of instances × solvers × seeds, resumable JSONL results, local or Dask."""
