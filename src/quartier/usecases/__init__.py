"""Use-case views: figures the dashboard's use-case pages need, computed in the database
through the Store layer (so they work alike on SQLite and PostgreSQL)."""
