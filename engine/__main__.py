"""``python -m engine``: the ``caminos`` command without the installed console script."""

import sys

from engine.cli import main

sys.exit(main())
