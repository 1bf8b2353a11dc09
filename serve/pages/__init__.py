"""The dashboard's pages, rendered on the server from plain data: markup (escaping), layout, overview, flow and order pages."""
