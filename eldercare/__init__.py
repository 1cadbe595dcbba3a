"""The `eldercare` command line: composes the stages into runnable services."""
