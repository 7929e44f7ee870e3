"""Diagnostics that make the papers' arguments visible.

- `gradient_flow.py`: how much error reaches each time step, per cell
  (`python -m zoo.diagnostics.gradient_flow`).
"""
