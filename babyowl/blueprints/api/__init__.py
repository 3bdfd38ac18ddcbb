"""The JSON API (`/api/v1`): see `core` for its plumbing and `views` for its operations."""
