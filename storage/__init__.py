"""Storage: the asyncpg pool, SQL migrations and the queries each stage needs.

All SQL lives here.
"""
