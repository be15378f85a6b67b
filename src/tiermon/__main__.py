"""`python -m tiermon`: the same CLI as the console script."""

import sys

from tiermon.tui.entry import main

sys.exit(main())
