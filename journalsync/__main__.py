from journalsync.cli import main

main()
