"""distrib: send a bilingual press release to the journalists who should get it.

The pipeline, one module or package per stage::

    config  ->  contacts  ->  release  ->  render  ->  preview / send  ->  deliverylog  ->  audit

`distrib.pipeline` is the one module that knows the order.  This package stays light to import
(``distrib --help`` must start fast), so stage modules are imported where they are used.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
