"""`python -m vaegan`: see vaegan.cli."""

import sys

from .cli import main

sys.exit(main())
