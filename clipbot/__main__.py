"""`python -m clipbot`."""

import sys

from clipbot.cli import main

if __name__ == "__main__":
    sys.exit(main())
