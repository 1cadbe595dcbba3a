"""The HTTP API, the advisors' console, the family view and the district dashboard."""
