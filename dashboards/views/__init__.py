"""The dashboard's pages; each module has ``render(conn, viewer, …)``."""
