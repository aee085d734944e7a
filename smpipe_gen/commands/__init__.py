"""One module per ``smpipe-gen`` command, named for it; each defines ``command`` (a click
command). ``options.py`` holds the options they share; ``smpipe_gen/cli.py`` is the group."""
