"""The results model: records that cross from the worker (pytest plugin) to the runner and reports."""
