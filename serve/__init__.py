"""The HTTP service: JSON API, signed payment webhooks, metrics, and the worker beside them (`flowscheme serve`)."""
