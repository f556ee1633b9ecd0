"""Staging engine: furnish (or empty) room photos without touching the architecture.

Import the pieces from their modules (``vstage.staging.engine``, ``.imageio``,
``.catalog`` …); this package imports nothing heavy so the API can load it cheaply.
"""
