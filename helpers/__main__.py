"""``python -m helpers``: the course's command line (see ``helpers.tools.cli``)."""

from helpers.tools.cli import main

raise SystemExit(main())
