"""The dashboard's pages, one module per panel; each handler calls the public APIs and renders."""
