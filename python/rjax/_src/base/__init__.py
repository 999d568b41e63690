"""The base layer: configuration, dtypes, exception types and pytrees. It
imports nothing else of rjax."""
