"""python -m convgrad: the same program as the `convgrad` command."""

import sys

from convgrad.cli import main

if __name__ == "__main__":
    sys.exit(main())
