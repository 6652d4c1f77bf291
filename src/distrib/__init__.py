"""distrib: send a bilingual press release to the journalists who should get it.

The layers, top to bottom::

    interfaces   cli/ (and the local preview page)      parse, call the application, show
    application  app/                                   the verbs an officer uses
    stages       contacts → release → render → send; audit, bounces, opt-outs
    port         deliverylog/                           the delivery log

`distrib.app` is the only package interfaces call, and `distrib.app.pipeline` the one module
that knows the order of the stages.  This package stays light to import (``distrib --help``
must start fast), so stage modules are imported where they are used.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
