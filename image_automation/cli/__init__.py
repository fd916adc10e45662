"""Command line: parse arguments, load config, call the engine, render output. Nothing more.

Each command lives in its own module and is registered on the root group here.
"""

from image_automation.cli._root import main, root

__all__ = ["main", "root"]
