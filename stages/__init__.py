"""Thin DVC entrypoints: ``python -m stages.<name>`` reads params.yaml and calls ``main``."""
