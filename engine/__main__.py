"""``python -m caminos.engine``: the ``caminos`` command without the installed console script."""

import sys

from caminos.engine.cli.main import main

sys.exit(main())
