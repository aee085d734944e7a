from smpipe_gen.cli import main

main()
