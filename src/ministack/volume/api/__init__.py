"""The Block Storage v3 API: one module per resource; handlers validate, authorize, call the
volume core (`volume/core.py`) and render (`views.py`)."""
