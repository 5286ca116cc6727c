"""harness: a test harness for adapting chip modules and handsets to domestic operating systems."""

__version__ = "0.1.0"
