"""flowscheme's Scheme interpreter: reader, analyser, evaluator, primitives, printer."""

from .errors import SchemeError
from .interpreter import Interpreter, format_value
from .printer import display_string, write_string

__all__ = ["Interpreter", "SchemeError", "write_string", "display_string", "format_value"]
