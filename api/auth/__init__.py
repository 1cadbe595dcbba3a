"""Signing in: password hashing, sessions and tokens, login throttling, the middleware
that says who is calling."""
