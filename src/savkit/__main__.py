from savkit.cli import main

raise SystemExit(main())
