"""``python -m voxserve`` runs the command line, like the ``voxserve`` script."""

import sys

from ._cli import main

sys.exit(main())
