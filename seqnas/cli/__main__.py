"""`python -m seqnas.cli ...`: the `seqnas` command."""

import sys

from seqnas.cli import main

sys.exit(main())
