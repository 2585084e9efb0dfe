from lockpin.cli import main

raise SystemExit(main())
