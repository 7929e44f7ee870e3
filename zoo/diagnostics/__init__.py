"""Diagnostics that make the papers' arguments visible.

- `gradient_flow.py`: how much error reaches each time step, per cell
  (`python -m zoo.diagnostics.gradient_flow`).
- `trace.py`: a recurrent layer's gates and states at every step, recorded
  through its cells' `step`; `text_gates.py`: raw text through a whole
  model, the units ranked by importance (the exports' `gates` signature).
- `gates.py`: the heatmaps and which memory units keep the first words
  (`python -m zoo.diagnostics.gates MODEL "TEXT"`).
- `cells.py` (drawing in `cells_render.py`): the cells of a character
  model that track quotes, line length, speakers
  (`python -m zoo.diagnostics.cells MODEL`).
"""
