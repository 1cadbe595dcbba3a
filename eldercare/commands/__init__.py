"""One module per subcommand group; each exposes `add_parser(subparsers)`.

A command's handler is stored as the parser default `handler`: a callable taking
the parsed arguments and the settings and returning the process exit code.
"""
