"""The web app (JSON API under /api, server-rendered pages) and the `semsearch` command line."""
