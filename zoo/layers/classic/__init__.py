"""Classic gated cells of the literature (2015-2022), one file per paper.

Each file holds one cell family, the cell first and then the layer, with its
paper's equations beside the code; `zoo.layers.catalog` lists them by name.
"""
