"""Allow ``python -m faxpush.cli`` as a synonym of the ``faxpush`` console script."""

from faxpush.cli.main import main

main()
