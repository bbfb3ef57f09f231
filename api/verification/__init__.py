"""An auditor's verification of a whole deployment from a chain endpoint and the sources alone.

`collect(system)` reads what the chain says (code, events, views); `verify(records, build)` checks
it against the reproducible build of the committed sources and the rules in `governance/`; each
check says what it compared. Nothing is taken from the operator but the address book, and the book
is itself checked: the code at its addresses, the wiring between them and, when it names them, the
role holders. HTTP-free: the CLI (`allmende verify`) and tests call it directly.
"""

from api.verification.checks import verify
from api.verification.records import Records, collect
from api.verification.report import Check, Report, Section, render_html

__all__ = ["Check", "Records", "Report", "Section", "collect", "render_html", "verify"]
