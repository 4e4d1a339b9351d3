"""python -m convgrad: the same program as the `convgrad` command."""

from convgrad.cli import main

if __name__ == "__main__":
    main()
