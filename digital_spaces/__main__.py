"""`python -m digital_spaces ...`: the same as the `digital-spaces` console script."""

import sys

from digital_spaces.cli import main

sys.exit(main())
