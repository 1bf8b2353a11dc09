"""The order lifecycle: an append-only ledger, miniKanren pricing, and the Shop API
that drives each order as a durable flow."""

from .orders import OrderError, OrderSummary, RecoveryError, Shop
from .pricing import Product, Quote, QuoteLine

__all__ = ["Shop", "OrderError", "RecoveryError", "OrderSummary", "Quote", "QuoteLine", "Product"]
