from ministack.cli import main

main()
