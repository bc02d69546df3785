"""Jinja2 in a box (the only module that imports jinja2): sandboxed, time- and size-bounded.

Specs come from pull requests, so a template must neither run code (the sandbox) nor hang or
exhaust memory. Python loops are stopped by a timer; single expressions that would build a huge
value in one C call ('x' * 10**12, center(10**9), replace('', ...)) are refused before they run.
"""

from __future__ import annotations

import functools
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orchestrator.spec.templates import MAX_OUTPUT_CHARS, MAX_RENDER_SECONDS

MAX_VALUE_SIZE = 1_000_000  # longest string or list an expression may build, biggest int argument
MAX_INT_BITS = 4096
_UNDEFINED = re.compile(r"^'([A-Za-z_][A-Za-z0-9_]*)' is undefined$")
_DIGITS = re.compile(r"\d+")
_SIZED_FILTERS = ("center", "indent", "truncate", "wordwrap", "replace", "format", "join")
_HAS_TIMER = hasattr(signal, "setitimer")  # not on Windows
_STOP = threading.Event()  # set while a render may be interrupted by the timer


class JinjaError(Exception):
    """A template fails to compile or render; ``variable`` names an undefined variable."""

    def __init__(
        self, message: str, line: int = 1, variable: str | None = None, slow: bool = False
    ) -> None:
        super().__init__(message)
        self.message, self.line, self.variable = message, line, variable
        self.slow = slow  # the time budget ran out


class _LimitError(Exception):
    """An expression would build a value over the limits."""


class _TimeoutError(Exception):
    """The template's render time budget ran out."""


def compile_template(source: str) -> tuple[jinja2.Template, tuple[str, ...]]:
    """Compile ``source``; return it and the names of its free variables."""
    env = _environment()
    try:
        tree = env.parse(source)
        return env.from_string(tree), tuple(sorted(meta.find_undeclared_variables(tree)))
    except jinja2.TemplateSyntaxError as exc:
        raise JinjaError(f"template syntax error: {exc.message}", exc.lineno or 1) from None
    except jinja2.TemplateError as exc:
        raise JinjaError(f"template error: {exc.message}") from None
    except (RecursionError, MemoryError, SyntaxError):  # nesting Python cannot compile
        raise JinjaError("template error: the template is nested too deeply") from None


def render(template: jinja2.Template, context: Mapping[str, Any], budget: float) -> str:
    """Render within ``budget`` seconds and MAX_OUTPUT_CHARS; JinjaError says why not."""
    if budget <= 0:
        raise JinjaError(_too_slow(), slow=True)
    try:
        return _timed(lambda: _collect(template, context), budget).strip()
    except _TimeoutError:
        raise JinjaError(_too_slow(), slow=True) from None
    except _LimitError as exc:
        raise JinjaError(f"cannot render: {exc}") from None
    except jinja2.UndefinedError as exc:
        match = _UNDEFINED.match(exc.message or "")
        if match:
            raise JinjaError(f"undefined variable {match[1]!r}", variable=match[1]) from None
        raise JinjaError(f"cannot render: {exc.message}") from None
    except RecursionError:
        raise JinjaError("cannot render: too much recursion (a recursive macro?)") from None
    except Exception as exc:  # any error of a filter or test is the template's problem
        raise JinjaError(f"cannot render: {_describe(exc)}") from None


def _too_slow() -> str:
    return f"cannot render: the template takes too long (over {MAX_RENDER_SECONDS:g} s)"


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _collect(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    parts, size = [], 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS * 2:  # stop early; some slack for whitespace stripped later
            break
        parts.append(chunk)
    text = "".join(parts)
    if size > MAX_OUTPUT_CHARS * 2 or len(text.strip()) > MAX_OUTPUT_CHARS:
        raise _LimitError(f"the output is longer than {MAX_OUTPUT_CHARS:,} characters")
    return text


def _timed(work: Callable[[], str], seconds: float) -> str:
    """Run ``work``, interrupted after ``seconds`` (only the main thread can take signals)."""
    if threading.current_thread() is not threading.main_thread() or not _HAS_TIMER:
        return work()
    previous = signal.signal(signal.SIGALRM, _alarm)
    _STOP.set()
    start = time.monotonic()
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return work()
    finally:
        _STOP.clear()  # first: a late alarm must not interrupt the clean-up
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # someone else's timer (a test timeout, say) keeps running
            left = max(outer - (time.monotonic() - start), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def _alarm(_signum: int, _frame: object) -> None:
    if _STOP.is_set():
        raise _TimeoutError


# --- the environment ------------------------------------------------------------------------


def _weight(value: Any) -> int:
    """Characters (or items) a value holds, one level deep: what repeating it multiplies."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple | dict):
        return len(value) + sum(len(v) for v in value if isinstance(v, str | list | tuple))
    return 1


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and _weight(value) > MAX_VALUE_SIZE:
        raise _LimitError(f"a value grows over {MAX_VALUE_SIZE:,} characters")
    return value


def _numbers(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[int]:
    """Integer arguments, and the sizes of string and list arguments, of a call."""
    values = [*args, *kwargs.values()]
    ints = [abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return ints + [_weight(v) for v in values if isinstance(v, str | list | tuple | dict)]


def _widths(text: str) -> list[int]:
    """Numbers in a format string: field widths and precisions it could pad to."""
    return [int(d) if len(d) < 12 else MAX_VALUE_SIZE + 1 for d in _DIGITS.findall(text)[:100]]


def _check_growth(
    subject: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], formats: bool = False
) -> None:
    """Refuse a call whose result could be huge: (len(subject) + 1) x (its arguments' sizes)."""
    numbers = _numbers(args, kwargs) + (_widths(subject) if formats else [])
    if any(n > MAX_VALUE_SIZE for n in numbers):
        raise _LimitError(f"an argument is over {MAX_VALUE_SIZE:,}")
    if (_weight(subject) + 1) * (1 + sum(numbers)) > 10 * MAX_VALUE_SIZE:
        raise _LimitError(f"the result could grow over {MAX_VALUE_SIZE:,} characters")


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps the pass_context/pass_eval_context marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
        subject, rest = (args[skip], args[skip + 1 :]) if len(args) > skip else (None, ())
        if name in _SIZED_FILTERS:
            _check_growth(subject, rest, kwargs, formats=name == "format")
        elif any(n > MAX_VALUE_SIZE for n in _numbers(rest, kwargs)):
            raise _LimitError(f"an argument of {name} is over {MAX_VALUE_SIZE:,}")
        return _check_size(function(*args, **kwargs))

    return bounded


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
    if n > 100 or max > 1000:
        raise _LimitError("lipsum is limited to 100 paragraphs of 1000 words")
    from jinja2.utils import generate_lorem_ipsum

    return generate_lorem_ipsum(n, html, min, max)


class _CodeGenerator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked(")  # `a ~ b` doubling a string in a loop
        super().visit_Concat(node, frame)
        self.write(")")


class _LimitedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**", "+", "%"])
    code_generator_class = _CodeGenerator

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals["lipsum"] = _lipsum

    def checked(self, value: Any) -> Any:
        """Refuse a concatenation result over the limits."""
        return _check_size(value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse arithmetic that would build a huge string, list or integer."""
        _check_binop(operator, left, right)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Refuse calls with huge arguments, or string methods that could grow huge."""
        _check_growth(getattr(__obj, "__self__", None), args, kwargs)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Bound ``str.format`` too: its widths can pad a string to any size."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text, sandboxed = value.__self__, wrapper

        def bounded(*args: Any, **kwargs: Any) -> str:
            _check_growth(text, args, kwargs, formats=True)
            return str(_check_size(sandboxed(*args, **kwargs)))

        return bounded


def _check_binop(operator: str, left: Any, right: Any) -> None:
    ints = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
    sequences = [v for v in (left, right) if isinstance(v, str | list | tuple)]
    if operator == "**" and len(ints) == 2 and right > 0:
        if max(left.bit_length(), 1) * right > MAX_INT_BITS:
            raise _LimitError(f"the power is over {MAX_INT_BITS} bits")
    elif operator == "*" and len(ints) == 2:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _LimitError(f"the product is over {MAX_INT_BITS} bits")
    elif operator in ("*", "+") and sequences:
        factor = ints[0] if operator == "*" and ints else 1
        if sum(_weight(v) for v in sequences) * factor > MAX_VALUE_SIZE:
            raise _LimitError(f"a value grows over {MAX_VALUE_SIZE:,} characters")
    elif operator == "%" and isinstance(left, str):
        _check_growth(left, right if isinstance(right, tuple) else (right,), {}, formats=True)


@functools.cache
def _environment() -> _LimitedEnvironment:
    return _LimitedEnvironment()
