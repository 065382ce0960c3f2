from gansuite.cli import main

raise SystemExit(main())
