"""The order lifecycle: an append-only ledger (with the stock), miniKanren pricing,
and the Shop API that drives each order as a durable flow."""

from .orders import OrderDetails, OrderError, OrderSummary, RecoveryError, Shop
from .pricing import Product, Quote, QuoteLine
from .stock import StockLevel

__all__ = ["Shop", "OrderError", "RecoveryError", "OrderSummary", "OrderDetails", "StockLevel", "Quote",
           "QuoteLine", "Product"]
