"""executor: runs untrusted programs in hardened, throw-away containers built from Linux primitives.

Standalone: it never imports Django. Public surface: Sandbox (create/run/destroy), Limits, the result types,
the language registry and `runner.execute` (compile once, then run).
"""

from executor.limits import LimitError, Limits
from executor.result import Outcome, StageResult, Status

__all__ = ["LimitError", "Limits", "Outcome", "StageResult", "Status"]
